module github.com/gatehouse/gatehouse

go 1.26.0

require (
	github.com/getkin/kin-openapi v0.153.0
	github.com/redis/rueidis v1.0.79
	golang.org/x/mod v0.43.0
)

require (
	github.com/go-openapi/jsonpointer v0.22.5 // indirect
	github.com/go-openapi/swag/jsonname v0.25.5 // indirect
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3 // indirect
	go.yaml.in/yaml/v4 v4.0.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
	golang.org/x/text v0.41.0 // indirect
)
