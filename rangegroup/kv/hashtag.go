package kv

import "bytes"

// HashTag returns the part of key that decides its ring position: the bytes
// between the first '{' and the first '}' after it, if there are any, else
// the whole key (the Redis Cluster rule). Keys that share a tag, like
// "{user:1}:name" and "{user:1}:email", share a position and so a range,
// which is what makes multi-key commands on them atomic. The result
// aliases key.
func HashTag(key []byte) []byte {
	open := bytes.IndexByte(key, '{')
	if open < 0 {
		return key
	}
	closing := bytes.IndexByte(key[open+1:], '}')
	if closing <= 0 {
		// No closing brace, or "{}": an empty tag would send every such
		// key to one position, so the whole key is hashed instead.
		return key
	}
	return key[open+1 : open+1+closing]
}
