package smp

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"math"
	"sync"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// The library makes a new zlib writer at best compression for every histogram it
// encodes: ~800 KB of garbage each. A generator encodes its interval's histograms every
// second (to keep them compact, and to send them from an agent), and on one CPU that
// garbage set its heap and its GC. fastEncode writes the same V2 compressed encoding,
// byte for byte, from the count array (read as fastmerge.go reads it) with pooled
// compressors.
type encoder struct {
	zw        *zlib.Writer
	raw, comp bytes.Buffer
	out       []byte
}

var encoders = sync.Pool{New: func() any {
	zw, _ := zlib.NewWriterLevel(nil, zlib.BestCompression) // a valid level: no error
	return &encoder{zw: zw}
}}

// The library's V2 cookies (word size 8 in the low nibble's upper bits).
const (
	v2EncodingCookie           int32 = 0x1c849303 | 0x10
	v2CompressedEncodingCookie int32 = 0x1c849304 | 0x10
	v2HeaderSize                     = 40
)

// fastEncode returns the encoding, or false when the histogram is not one it can read
// (then the library encodes it).
func fastEncode(h *hdrhistogram.Histogram) (string, bool) {
	if !hdrLayout.ok || !standard(h) {
		return "", false
	}
	counts := countsOf(h)
	limit := min(indexFor(h.Max())+1, len(counts))
	e := encoders.Get().(*encoder)
	defer encoders.Put(e)

	e.raw.Reset()
	var hdr [v2HeaderSize]byte
	e.raw.Write(hdr[:]) // filled in below, once the payload's length is known
	var zz [9]byte
	for i := 0; i < limit; {
		count := counts[i]
		i++
		if count == 0 {
			zeros := int64(1)
			for i < limit && counts[i] == 0 {
				zeros++
				i++
			}
			if zeros > 1 {
				count = -zeros
			}
		}
		e.raw.Write(zigZag(zz[:0], count))
	}
	b := e.raw.Bytes()
	binary.BigEndian.PutUint32(b[0:], uint32(v2EncodingCookie))
	binary.BigEndian.PutUint32(b[4:], uint32(len(b)-v2HeaderSize))
	binary.BigEndian.PutUint32(b[8:], 1) // normalizing index offset, as the library writes it
	binary.BigEndian.PutUint32(b[12:], uint32(HistogramSigFigs))
	binary.BigEndian.PutUint64(b[16:], uint64(HistogramLowestUs))
	binary.BigEndian.PutUint64(b[24:], uint64(HistogramHighestUs))
	binary.BigEndian.PutUint64(b[32:], math.Float64bits(1)) // integer to double ratio

	e.comp.Reset()
	var outer [8]byte
	e.comp.Write(outer[:])
	e.zw.Reset(&e.comp)
	if _, err := e.zw.Write(b); err != nil {
		return "", false
	}
	if err := e.zw.Close(); err != nil {
		return "", false
	}
	c := e.comp.Bytes()
	binary.BigEndian.PutUint32(c[0:], uint32(v2CompressedEncodingCookie))
	binary.BigEndian.PutUint32(c[4:], uint32(len(c)-8))
	e.out = base64.StdEncoding.AppendEncode(e.out[:0], c)
	return string(e.out), true
}

// zigZag appends v in the ZigZag LEB128-64b9B form HdrHistogram's V2 encoding uses.
func zigZag(buf []byte, v int64) []byte {
	u := uint64((v << 1) ^ (v >> 63))
	for i := 0; i < 8; i++ {
		if u>>7 == 0 {
			return append(buf, byte(u))
		}
		buf = append(buf, byte(u)|0x80)
		u >>= 7
	}
	return append(buf, byte(u)) // the ninth byte holds all eight bits
}
