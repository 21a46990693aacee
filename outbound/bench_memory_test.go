package outbound_test

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"testing"

	"github.com/redis/go-redis/v9"
)

// keyClasses sums MEMORY USAGE over the keys of each class: a key with its
// ids (acc_…, evt_…) replaced by their prefixes, e.g. "hl:{acc}:dlv:dlv:att".
// The memory scenario prints the difference per delivery, so a change to
// the stored layout shows which key it moved.
type keyClasses map[string]struct {
	bytes    int64
	encoding string
}

var idInKey = regexp.MustCompile(`(acc|dlv|evt|whk|key|usr|chn)_[0-9a-z]+`)

func memoryByKey(b *testing.B, rdb redis.UniversalClient) keyClasses {
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		b.Fatal(err)
	}
	p := rdb.Pipeline()
	usage := make([]*redis.IntCmd, len(keys))
	enc := make([]*redis.StringCmd, len(keys))
	for i, k := range keys {
		usage[i] = p.MemoryUsage(ctx, k)
		enc[i] = p.ObjectEncoding(ctx, k)
	}
	_, _ = p.Exec(ctx) // a key that expired in between reads as 0
	out := keyClasses{}
	for i, k := range keys {
		c := idInKey.ReplaceAllString(k, "$1")
		e := out[c]
		e.bytes += usage[i].Val()
		e.encoding = enc[i].Val()
		out[c] = e
	}
	return out
}

// perDeliveryRows are the table's rows for the key classes that grew by at
// least 1 B per delivery between before and after.
func perDeliveryRows(before, after keyClasses, n int) []benchRow {
	var names []string
	for c, a := range after {
		if a.bytes-before[c].bytes >= int64(n) {
			names = append(names, c)
		}
	}
	sort.Strings(names)
	rows := make([]benchRow, 0, len(names))
	for _, c := range names {
		d := float64(after[c].bytes-before[c].bytes) / float64(n)
		rows = append(rows, benchRow{"  … " + c + " (" + after[c].encoding + ")", "-", "-", "-", "-",
			fmt.Sprintf("%.0f B per delivery (MEMORY USAGE)", d), "-", "-"})
	}
	return rows
}
