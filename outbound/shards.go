package outbound

import (
	"hash/fnv"
	"strconv"
)

// clusterSlots is how many hash slots a Redis Cluster has.
const clusterSlots = 16384

// QueueFor returns the Asynq queue of an account's deliveries when delivery
// work is sharded over shards queues (HOOKLINE_QUEUE_SHARDS). One shard (or
// fewer) is DefaultQueue. Otherwise accounts map to shards by a hash of
// their id, and shard i's name is chosen so that its hash slot (Asynq's keys
// are asynq:{<queue>}:…, so the whole name is the hash tag) lies in the i-th
// of shards equal ranges of Cluster's 16,384 slots: with as many masters as
// shards, or a divisor of it, each master holds its share of the queues.
// The result is stable for a given (account, shards).
func QueueFor(account string, shards int) string {
	if shards <= 1 {
		return DefaultQueue
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(account))
	return ShardQueue(int(h.Sum32()%uint32(shards)), shards)
}

// ShardQueue returns the name of shard i of shards (see QueueFor), for the
// worker's queue list: every i in [0, shards).
func ShardQueue(i, shards int) string {
	if shards <= 1 {
		return DefaultQueue
	}
	lo, hi := i*clusterSlots/shards, (i+1)*clusterSlots/shards
	base := DefaultQueue + "-" + strconv.Itoa(i) + "-"
	for k := 0; ; k++ {
		name := base + strconv.Itoa(k)
		if s := int(crc16([]byte(name)) % clusterSlots); s >= lo && s < hi {
			return name
		}
	}
}

// ShardQueues returns every shard queue's name, in shard order.
func ShardQueues(shards int) []string {
	if shards < 1 {
		shards = 1
	}
	out := make([]string, shards)
	for i := range out {
		out[i] = ShardQueue(i, shards)
	}
	return out
}

// queueOf is the queue holding d's task: Options.Queue, or with
// Options.QueueShards > 1 the account's shard (QueueFor), so an account's
// tasks stay in one queue and the queues spread over a Cluster's masters.
func (s *Service) queueOf(d Delivery) string {
	if s.opts.QueueShards <= 1 {
		return s.opts.Queue
	}
	return QueueFor(d.AccountID, s.opts.QueueShards)
}

// queues are every queue delivery tasks may be in, for the worker and the
// samplers.
func (s *Service) queues() []string {
	if s.opts.QueueShards <= 1 {
		return []string{s.opts.Queue}
	}
	return ShardQueues(s.opts.QueueShards)
}

// crc16 is CRC-16/XMODEM, the checksum Redis Cluster maps keys to slots with.
func crc16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc ^= uint16(c) << 8
		for i := 0; i < 8; i++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
