package redisindex

import (
	"strconv"
	"sync"
)

// NumSlots is the number of hash slots of a Redis Cluster.
const NumSlots = 16384

// crc16tab is the CRC16-XMODEM table Redis Cluster hashes keys with.
var crc16tab = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

func crc16(s string) uint16 {
	var c uint16
	for i := 0; i < len(s); i++ {
		c = c<<8 ^ crc16tab[byte(c>>8)^s[i]]
	}
	return c
}

// Slot returns the Redis Cluster hash slot of key, honouring hash tags: when
// key holds a '{' followed later by a '}' with at least one byte between
// them, only those bytes are hashed.
func Slot(key string) int {
	for i := 0; i < len(key); i++ {
		if key[i] != '{' {
			continue
		}
		for j := i + 1; j < len(key); j++ {
			if key[j] == '}' {
				if j > i+1 {
					key = key[i+1 : j]
				}
				return int(crc16(key)) % NumSlots
			}
		}
		break
	}
	return int(crc16(key)) % NumSlots
}

// SlotTags returns, for every hash slot s, the shortest base-36 numeral
// (first in counting order) whose CRC16 falls in s. Wrapped in braces it
// puts an index key in slot s. The table is deterministic, so every process
// (whichever driver it runs) names the index of a slot the same way.
var SlotTags = sync.OnceValue(func() *[NumSlots]string {
	var t [NumSlots]string
	n := 0
	for i := int64(0); n < NumSlots; i++ {
		s := strconv.FormatInt(i, 36)
		if sl := int(crc16(s)) % NumSlots; t[sl] == "" {
			t[sl] = s
			n++
		}
	}
	return &t
})

// SlotTag returns the hash tag of slot s (see [SlotTags]).
func SlotTag(s int) string { return SlotTags()[s] }

// BySlot groups keys by hash slot, keeping their order within a group.
func BySlot(keys []string) [][]string {
	idx := make(map[int]int)
	var groups [][]string
	for _, k := range keys {
		s := Slot(k)
		i, ok := idx[s]
		if !ok {
			i = len(groups)
			idx[s] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], k)
	}
	return groups
}
