package smp

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// maxDecompressedHistogram bounds the inflated size of an encoded histogram (a
// decompression bomb would otherwise be read whole by the library).
const maxDecompressedHistogram = 8 << 20

// inflater holds what reading an encoding needs, reused: a generator reads its compacted
// histograms every second, and fresh inflaters (~70 KB each) were most of its garbage.
type inflater struct {
	raw []byte
	br  bytes.Reader
	zr  io.ReadCloser
	out bytes.Buffer
}

var inflaters = sync.Pool{New: func() any { return &inflater{} }}

// inflateHistogram validates the parts of an encoded histogram that the library trusts
// blindly (the outer cookie and length, the inflated size, and the parameters that
// decide how much memory the decoded histogram takes) and returns the inflated
// encoding, which lives in f until f is reused.
func inflateHistogram(s string, f *inflater) ([]byte, error) {
	raw, err := base64.StdEncoding.AppendDecode(f.raw[:0], []byte(s))
	f.raw = raw
	if err != nil {
		return nil, fmt.Errorf("histogram encoding is not base64")
	}
	if len(raw) < 8 {
		return nil, fmt.Errorf("histogram encoding is truncated")
	}
	cookie := int32(binary.BigEndian.Uint32(raw[0:4])) &^ 0xf0
	length := int32(binary.BigEndian.Uint32(raw[4:8]))
	if cookie != 0x1c849304 { // V2 compressed encoding cookie
		return nil, fmt.Errorf("histogram encoding is not the HdrHistogram V2 compressed format")
	}
	if length < 0 || int(length) > len(raw)-8 {
		return nil, fmt.Errorf("histogram encoding is truncated")
	}
	f.br.Reset(raw[8 : 8+length])
	if f.zr == nil {
		f.zr, err = zlib.NewReader(&f.br)
	} else {
		err = f.zr.(zlib.Resetter).Reset(&f.br, nil)
	}
	if err != nil {
		f.zr = nil
		return nil, fmt.Errorf("histogram encoding is corrupt")
	}
	f.out.Reset()
	if _, err := f.out.ReadFrom(io.LimitReader(f.zr, maxDecompressedHistogram+1)); err != nil {
		return nil, fmt.Errorf("histogram encoding is corrupt")
	}
	inflated := f.out.Bytes()
	if len(inflated) > maxDecompressedHistogram {
		return nil, fmt.Errorf("histogram encoding inflates beyond %d bytes", maxDecompressedHistogram)
	}
	if len(inflated) < v2HeaderSize {
		return nil, fmt.Errorf("histogram encoding is truncated")
	}
	sig := int32(binary.BigEndian.Uint32(inflated[12:16]))
	lowest := int64(binary.BigEndian.Uint64(inflated[16:24]))
	highest := int64(binary.BigEndian.Uint64(inflated[24:32]))
	if sig < 1 || sig > 5 {
		return nil, fmt.Errorf("histogram has %d significant figures; 1 to 5 are allowed", sig)
	}
	if lowest < 1 || highest < 2*lowest || highest > 1<<42 {
		return nil, fmt.Errorf("histogram range %d..%d is not allowed", lowest, highest)
	}
	return inflated, nil
}

// standardEncoding says whether an inflated encoding has meshperf's parameters, so its
// counts can be read straight into one of ours.
func standardEncoding(inflated []byte) bool {
	return hdrLayout.ok &&
		int32(binary.BigEndian.Uint32(inflated[0:4]))&^0xf0 == 0x1c849303 && // V2 (uncompressed) cookie
		int(binary.BigEndian.Uint32(inflated[4:8])) == len(inflated)-v2HeaderSize &&
		int32(binary.BigEndian.Uint32(inflated[12:16])) == HistogramSigFigs &&
		int64(binary.BigEndian.Uint64(inflated[16:24])) == HistogramLowestUs &&
		int64(binary.BigEndian.Uint64(inflated[24:32])) == HistogramHighestUs
}

var errCorruptHistogram = errors.New("histogram encoding is corrupt")

// fillCounts reads a V2 payload (ZigZag LEB128-64b9B: counts, negative runs of zeros)
// into h's count array as the library does, refusing what would not fit.
func fillCounts(h *Histogram, payload []byte) error {
	counts := countsOf(h.h)
	var total int64
	idx := 0
	for pos := 0; pos < len(payload); {
		v, n := unZigZag(payload[pos:])
		if n == 0 {
			return errCorruptHistogram
		}
		pos += n
		if v < 0 { // a run of zeros; past the end only a count that follows is wrong
			if v < -int64(len(counts)) {
				idx = len(counts)
			} else {
				idx = min(idx+int(-v), len(counts))
			}
			continue
		}
		if idx >= len(counts) {
			return errCorruptHistogram
		}
		counts[idx] += v
		total += v
		idx++
	}
	*totalOf(h.h) += total
	return nil
}

// unZigZag reads one value; n is 0 when the buffer ends inside it.
func unZigZag(b []byte) (v int64, n int) {
	var u uint64
	for i := 0; i < 9; i++ {
		if i >= len(b) {
			return 0, 0
		}
		if i == 8 { // the ninth byte holds all eight bits
			u |= uint64(b[i]) << 56
			n = 9
			break
		}
		u |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			n = i + 1
			break
		}
	}
	return int64(u>>1) ^ -int64(u&1), n
}
