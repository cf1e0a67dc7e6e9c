package rowcodec

import "unsafe"

// Internals for the black-box tests.

// ParseUTC is parseUTC.
var ParseUTC = parseUTC

// ScanValue stores raw, as scanned from the database, into column i of the
// zero row at base, the way ScanRows does.
func ScanValue(p *Plan, i int, base unsafe.Pointer, raw any) error {
	a := newPtrs(p, 0)
	return p.cols[i].scan(base, i, &a, raw)
}
