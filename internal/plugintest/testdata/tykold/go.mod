module example.com/tyk-old-plugin

go 1.19

require github.com/TykTechnologies/tyk v1.9.2-0.20211011151411-cd2f0b77f62e
