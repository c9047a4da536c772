module example.com/tyk-oas-plugin

go 1.24

require github.com/TykTechnologies/tyk v1.9.2-0.20250415092215-1f2e3d4c5b6a
