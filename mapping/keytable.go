package mapping

// keyTable finds the rules of a top-level request key. It is built once
// from the compiled rules and only read afterwards: open addressing with
// linear probing over a power-of-two table kept at most half full, hashed
// from a key's length and three of its bytes. Rule files name a few dozen
// keys at most; a Go map hashes every byte of every key a client sends,
// which cost more than the lookup itself on the translate path.
type keyTable struct {
	slots []keySlot
	mask  uint32
}

type keySlot struct {
	key string
	kr  *keyRules
}

func newKeyTable(m map[string]*keyRules) keyTable {
	n := 8
	for n < 2*len(m) {
		n *= 2
	}
	t := keyTable{slots: make([]keySlot, n), mask: uint32(n - 1)}
	for k, kr := range m {
		i := keyHash(k) & t.mask
		for t.slots[i].kr != nil {
			i = (i + 1) & t.mask
		}
		t.slots[i] = keySlot{k, kr}
	}
	return t
}

// get returns the rules of key k, or nil. Half the table is always empty,
// so a probe ends within a few slots whatever keys a client sends.
func (t *keyTable) get(k string) *keyRules {
	for i := keyHash(k) & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.kr == nil {
			return nil
		}
		if s.key == k {
			return s.kr
		}
	}
}

func keyHash(k string) uint32 {
	n := len(k)
	h := uint32(n) * 0x9E3779B1
	if n > 0 {
		h ^= uint32(k[0]) | uint32(k[n/2])<<8 | uint32(k[n-1])<<16
	}
	h ^= h >> 15
	h *= 0x2C1B3C6D
	h ^= h >> 12
	return h
}
