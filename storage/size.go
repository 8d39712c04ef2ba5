package storage

// ArcStats counts the user keys of the arc (start, end] and their bytes
// (keys plus stored values), stopping after limit keys; complete is false
// when it stopped early. It reads committed state, for operators' status
// views rather than hot paths.
func (e *Engine) ArcStats(start, end uint64, limit int64) (keys, bytes int64, complete bool, err error) {
	complete = true
	for _, sp := range UserSpans(start, end) {
		err = e.Iterate(sp.Start, sp.End, func(k, v []byte) bool {
			if keys >= limit {
				complete = false
				return false
			}
			keys++
			bytes += int64(len(k) + len(v))
			return true
		})
		if err != nil || !complete {
			return keys, bytes, complete, err
		}
	}
	return keys, bytes, complete, nil
}
