package concord

import (
	"context"
	"time"

	"github.com/concord-kv/concord/api/adminpb"
)

// KV is Concord's key-value API. An embedded *Node offers it, and so does
// the remote client of package api/client, so an application that holds a
// KV switches between an in-process node and a remote cluster by changing
// the one line that makes it. Each method is documented on Node; options,
// sentinel errors and results mean the same through both.
type KV interface {
	Put(ctx context.Context, key, value []byte, opts ...Option) (*KeyValue, error)
	Get(ctx context.Context, key []byte, opts ...Option) (*KeyValue, error)
	Delete(ctx context.Context, key []byte, opts ...Option) error
	Touch(ctx context.Context, key []byte, ttl time.Duration, opts ...Option) (*KeyValue, error)
	TTL(ctx context.Context, key []byte, opts ...Option) (time.Duration, error)
	PutIf(ctx context.Context, key, value []byte, opts ...Option) (*KeyValue, error)
	DeleteIf(ctx context.Context, key []byte, opts ...Option) error
	PutMany(ctx context.Context, items []PutItem, opts ...Option) (itemErrs []error, err error)
	GetMany(ctx context.Context, keys [][]byte, opts ...Option) ([]*KeyValue, error)
	DeleteMany(ctx context.Context, keys [][]byte, opts ...Option) (itemErrs []error, err error)
	TouchMany(ctx context.Context, items []TouchItem, opts ...Option) (itemErrs []error, err error)
	Txn(ctx context.Context, txn Txn, opts ...Option) (*TxnResult, error)
	Scan(ctx context.Context, after []byte, limit int, opts ...Option) (page []*KeyValue, more bool, err error)
	Watch(ctx context.Context, key []byte, opts ...Option) (<-chan WatchEvent, error)
	Status(ctx context.Context) (*adminpb.StatusResponse, error)
	Close() error
}

var _ KV = (*Node)(nil)
