module github.com/gatehouse/gatehouse

go 1.26.0

require (
	github.com/redis/rueidis v1.0.79
	golang.org/x/mod v0.43.0
)

require golang.org/x/sys v0.47.0 // indirect
