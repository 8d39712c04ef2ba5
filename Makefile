# Developer shortcuts. CI runs .ci/run, which needs none of these.

.PHONY: test race lint proto tools

test:
	go test ./...

race:
	go test -race ./transport/... ./membership/... ./ring/... ./storage/... ./rangegroup/... ./rebalance/... ./router/... ./api/... ./sim/... ./fuzz/... .

lint:
	test -z "$$(gofmt -l .)"
	go vet ./...
	staticcheck ./...

# Regenerates the committed protobuf code (needs protoc: apt-get install protobuf-compiler).
proto: tools
	PATH="$$(go env GOPATH)/bin:$$PATH" go generate ./...

tools:
	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
	go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
