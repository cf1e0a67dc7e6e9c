module github.com/viborm/viborm-go

go 1.26
