package outbound

import (
	"fmt"
	"testing"
)

// Redis Cluster's slot function is CRC-16/XMODEM: the check value of
// "123456789" is 0x31C3, and redis-cli's CLUSTER KEYSLOT of "foo" is 12182.
func TestCRC16_MatchesRedisCluster(t *testing.T) {
	if got := crc16([]byte("123456789")); got != 0x31c3 {
		t.Fatalf("crc16 = %#x, want 0x31c3", got)
	}
	if got := crc16([]byte("foo")) % clusterSlots; got != 12182 {
		t.Fatalf("slot of foo = %d, want 12182", got)
	}
}

func TestQueueFor_SpreadsAccountsOverShardsInTheirSlotRanges(t *testing.T) {
	if got := QueueFor("acc_x", 1); got != DefaultQueue {
		t.Fatalf("one shard: got %q, want %q", got, DefaultQueue)
	}
	for _, n := range []int{2, 3, 6, 16} {
		qs := ShardQueues(n)
		index := map[string]int{}
		for i, q := range qs {
			lo, hi := i*clusterSlots/n, (i+1)*clusterSlots/n
			if s := int(crc16([]byte(q)) % clusterSlots); s < lo || s >= hi {
				t.Fatalf("shard %d of %d: %s has slot %d, want [%d, %d)", i, n, q, s, lo, hi)
			}
			index[q] = i
		}
		counts := make([]int, n)
		for a := 0; a < 3000; a++ {
			acct := fmt.Sprintf("acc_%06d", a)
			q := QueueFor(acct, n)
			if q != QueueFor(acct, n) {
				t.Fatal("QueueFor is not stable")
			}
			i, ok := index[q]
			if !ok {
				t.Fatalf("QueueFor(%s, %d) = %q, not a shard queue", acct, n, q)
			}
			counts[i]++
		}
		for i, c := range counts {
			if c < 3000/n/2 {
				t.Fatalf("%d shards: shard %d got %d of 3000 accounts: %v", n, i, c, counts)
			}
		}
	}
}
