package store

import (
	"errors"
	"io"
	"testing"
)

type replyErr string

func (e replyErr) Error() string { return string(e) }
func (e replyErr) RedisError()   {}

// Connection failures and Redis's "not now" replies are marked
// ErrUnavailable (a 503 with Retry-After); other replies are not.
func TestMarkUnavailable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{io.EOF, true},
		{replyErr("LOADING Redis is loading the dataset in memory"), true},
		{replyErr("READONLY You can't write against a read only replica."), true},
		{replyErr("NOREPLICAS Not enough good replicas to write."), true},
		{replyErr("EXECABORT Transaction discarded because of previous errors."), true},
		{replyErr("OOM command not allowed when used memory > 'maxmemory'."), true},
		{replyErr("WRONGTYPE Operation against a key holding the wrong kind of value"), false},
		{replyErr("NOSCRIPT No matching script"), false},
		{errors.New("something else"), false},
	}
	for _, tc := range tests {
		if got := errors.Is(markUnavailable(tc.err), ErrUnavailable); got != tc.want {
			t.Errorf("%v: unavailable %v, want %v", tc.err, got, tc.want)
		}
	}
}
