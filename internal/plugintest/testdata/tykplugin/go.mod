module example.com/tyk-plugin

go 1.24

require (
	github.com/TykTechnologies/tyk v1.9.2-0.20250415092215-1f2e3d4c5b6a
	github.com/TykTechnologies/tyk-pump v1.12.0
)

require github.com/TykTechnologies/graphql-go-tools v1.6.2-0.20250101000000-0123456789ab // indirect
