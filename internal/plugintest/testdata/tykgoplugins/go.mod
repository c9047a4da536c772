module example.com/tyk-goplugins

go 1.22

require (
	github.com/TykTechnologies/tyk v1.9.2-0.20250415092215-1f2e3d4c5b6a
	github.com/TykTechnologies/tyk-pump v1.12.0
)
