module example.com/complex

go 1.26
