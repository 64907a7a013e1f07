// Package cpuprof writes a CPU profile of a benchmark program, for its
// -cpuprofile flag; go tool pprof reads it:
//
//	go run ./bench/async -cpuprofile /tmp/async.prof
//	go tool pprof -top /tmp/async.prof
package cpuprof
