package smp

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
)

// maxDecompressedHistogram bounds the inflated size of an encoded histogram (a
// decompression bomb would otherwise be read whole by the library).
const maxDecompressedHistogram = 8 << 20

// checkHistogramHeader validates the parts of an encoded histogram that the library
// trusts blindly: the outer cookie and length, the inflated size, and the parameters
// that decide how much memory the decoded histogram takes.
func checkHistogramHeader(s string) error {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return fmt.Errorf("histogram encoding is not base64")
	}
	if len(raw) < 8 {
		return fmt.Errorf("histogram encoding is truncated")
	}
	cookie := int32(binary.BigEndian.Uint32(raw[0:4])) &^ 0xf0
	length := int32(binary.BigEndian.Uint32(raw[4:8]))
	if cookie != 0x1c849304 { // V2 compressed encoding cookie
		return fmt.Errorf("histogram encoding is not the HdrHistogram V2 compressed format")
	}
	if length < 0 || int(length) > len(raw)-8 {
		return fmt.Errorf("histogram encoding is truncated")
	}
	z, err := zlib.NewReader(bytes.NewReader(raw[8 : 8+length]))
	if err != nil {
		return fmt.Errorf("histogram encoding is corrupt")
	}
	inflated, err := io.ReadAll(io.LimitReader(z, maxDecompressedHistogram+1))
	if err != nil {
		return fmt.Errorf("histogram encoding is corrupt")
	}
	if len(inflated) > maxDecompressedHistogram {
		return fmt.Errorf("histogram encoding inflates beyond %d bytes", maxDecompressedHistogram)
	}
	if len(inflated) < 40 {
		return fmt.Errorf("histogram encoding is truncated")
	}
	sig := int32(binary.BigEndian.Uint32(inflated[12:16]))
	lowest := int64(binary.BigEndian.Uint64(inflated[16:24]))
	highest := int64(binary.BigEndian.Uint64(inflated[24:32]))
	if sig < 1 || sig > 5 {
		return fmt.Errorf("histogram has %d significant figures; 1 to 5 are allowed", sig)
	}
	if lowest < 1 || highest < 2*lowest || highest > 1<<42 {
		return fmt.Errorf("histogram range %d..%d is not allowed", lowest, highest)
	}
	return nil
}
