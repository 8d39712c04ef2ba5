package kv

// Reader is read access to engine keys: the read-only half of Store.
type Reader interface {
	// Get returns the value stored under engine key k and whether there is
	// one. The value need only stay valid until the next call on the
	// Reader; kv copies what it keeps.
	Get(k []byte) ([]byte, bool, error)
	// Iterate calls fn for each engine key in [lo, hi) in ascending order
	// until fn returns false. k and v are valid only during the call.
	Iterate(lo, hi []byte, fn func(k, v []byte) bool) error
}

// Store is read-write access to engine keys, implemented by a storage
// write batch that reads its own writes. kv never modifies a slice after
// passing it to Set.
type Store interface {
	Reader
	// Set stores v under engine key k.
	Set(k, v []byte) error
	// Delete removes engine key k; removing an absent key is not an error.
	Delete(k []byte) error
}
