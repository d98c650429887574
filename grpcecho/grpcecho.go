// Package grpcecho is meshperf's own unary gRPC echo service,
// meshperf.echo.v1.Echo/Echo(google.protobuf.BytesValue) returns (google.protobuf.BytesValue).
// It uses well-known message types, so neither side needs generated code.
package grpcecho

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Names on the wire.
const (
	ServiceName = "meshperf.echo.v1.Echo"
	FullMethod  = "/" + ServiceName + "/Echo"
)

// Server answers echo calls.
type Server interface {
	Echo(ctx context.Context, in *wrapperspb.BytesValue) (*wrapperspb.BytesValue, error)
}

func echoHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := new(wrapperspb.BytesValue)
	if err := dec(in); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return srv.(Server).Echo(ctx, in)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: FullMethod}
	return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) {
		return srv.(Server).Echo(ctx, req.(*wrapperspb.BytesValue))
	})
}

// ServiceDesc describes the service for grpc.Server.RegisterService.
var ServiceDesc = grpc.ServiceDesc{
	ServiceName: ServiceName,
	HandlerType: (*Server)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Echo", Handler: echoHandler}},
	Metadata:    "meshperf/echo/v1/echo.proto",
}

// Register adds the echo service to a gRPC server.
func Register(s grpc.ServiceRegistrar, impl Server) { s.RegisterService(&ServiceDesc, impl) }

// Call makes one echo call.
func Call(ctx context.Context, conn grpc.ClientConnInterface, payload []byte, opts ...grpc.CallOption) (*wrapperspb.BytesValue, error) {
	out := new(wrapperspb.BytesValue)
	if err := conn.Invoke(ctx, FullMethod, wrapperspb.Bytes(payload), out, opts...); err != nil {
		return nil, err
	}
	return out, nil
}
