package inflate

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	kzlib "github.com/klauspost/compress/zlib"
)

// text makes n bytes of source-like text (compressible, as a git blob).
func text(rng *rand.Rand, n int) []byte {
	words := strings.Fields("static int curl_easy_setopt struct return if else for while char const void size_t CURLcode result data conn password token (*ptr) { } ; = == != -> \n\t \n")
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[rng.IntN(len(words))])
		b.WriteByte(' ')
	}
	return b.Bytes()[:n]
}

func compress(t testing.TB, level int, data []byte) []byte {
	var b bytes.Buffer
	w, err := zlib.NewWriterLevel(&b, level)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestRoundTrip(t *testing.T) {
	if !Available {
		t.Fatal("built without cgo: libdeflate is not compiled in (CGO_ENABLED=1 and gcc are needed)")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 200_000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	cases := map[string][]byte{
		"empty":  {},
		"one":    {'x'},
		"text":   text(rng, 300_000),
		"random": random, // stored blocks
		"runs":   bytes.Repeat([]byte("a"), 100_000),
	}
	for name, data := range cases {
		for _, level := range []int{zlib.NoCompression, zlib.BestSpeed, zlib.DefaultCompression, zlib.BestCompression} {
			t.Run(fmt.Sprintf("%s/%d", name, level), func(t *testing.T) {
				z := compress(t, level, data)
				// Trailing bytes, as the next object of a pack follows.
				src := append(append([]byte{}, z...), "next object"...)
				dst := make([]byte, len(data))
				used, err := Zlib(dst, src)
				if err != nil {
					t.Fatal(err)
				}
				if used != len(z) {
					t.Errorf("used %d bytes, the stream is %d", used, len(z))
				}
				if !bytes.Equal(dst, data) {
					t.Error("decompressed data differs")
				}
			})
		}
	}
}

func TestBadStreams(t *testing.T) {
	data := text(rand.New(rand.NewPCG(3, 4)), 50_000)
	z := compress(t, zlib.DefaultCompression, data)

	if _, err := Zlib(make([]byte, len(data)-1), z); !errors.Is(err, ErrLonger) {
		t.Errorf("a stream longer than its size: %v, want ErrLonger", err)
	}
	if _, err := Zlib(make([]byte, len(data)+1), z); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("data ends after %d of the %d bytes", len(data), len(data)+1)) {
		t.Errorf("a stream shorter than its size: %v", err)
	}
	if _, err := Zlib(make([]byte, len(data)), z[:len(z)/2]); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a truncated stream: %v, want ErrCorrupt", err)
	}
	if _, err := Zlib(make([]byte, len(data)), nil); !errors.Is(err, ErrCorrupt) {
		t.Errorf("no stream: %v, want ErrCorrupt", err)
	}
	bad := append([]byte{}, z...)
	bad[len(bad)-1] ^= 1 // the Adler-32 checksum
	if _, err := Zlib(make([]byte, len(data)), bad); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a wrong checksum: %v, want ErrCorrupt", err)
	}
	raw := append([]byte{}, z...)
	raw[0] = 0x00 // not a zlib header
	if _, err := Zlib(make([]byte, len(data)), raw); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a bad header: %v, want ErrCorrupt", err)
	}
}

// FuzzZlib: whatever the bytes, Zlib agrees with the standard library on
// whether they hold a stream of that size, and on its content.
func FuzzZlib(f *testing.F) {
	f.Add(compress(f, 6, []byte("hello, hello, hello")), 19)
	f.Add(compress(f, 0, []byte("stored")), 6)
	f.Add([]byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01}, 0)
	f.Fuzz(func(t *testing.T, src []byte, size int) {
		if size < 0 || size > 1<<20 {
			return
		}
		dst := make([]byte, size)
		_, err := Zlib(dst, src)
		want, werr := stdInflate(src, size)
		if (err == nil) != (werr == nil) {
			t.Fatalf("libdeflate: %v; standard library: %v", err, werr)
		}
		if err == nil && !bytes.Equal(dst, want) {
			t.Fatal("content differs from the standard library's")
		}
	})
}

// stdInflate reads exactly size bytes and the stream's end, as gitobj's
// streaming path does.
func stdInflate(src []byte, size int) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(src))
	if err != nil {
		return nil, err
	}
	out := make([]byte, size)
	if _, err := io.ReadFull(zr, out); err != nil {
		return nil, err
	}
	var one [1]byte
	if n, err := zr.Read(one[:]); n != 0 || err != io.EOF {
		return nil, errors.New("more data, or no end")
	}
	return out, nil
}

// BenchmarkInflate compares libdeflate with the Go inflaters on
// source-like text, as a pack's blobs are.
func BenchmarkInflate(b *testing.B) {
	data := text(rand.New(rand.NewPCG(5, 6)), 64<<10)
	z := compress(b, zlib.DefaultCompression, data)
	dst := make([]byte, len(data))
	b.Run("libdeflate", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := Zlib(dst, z); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("klauspost", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		r := bytes.NewReader(z)
		zr, _ := kzlib.NewReader(r)
		for b.Loop() {
			r.Reset(z)
			zr.(kzlib.Resetter).Reset(r, nil)
			if _, err := io.ReadFull(zr, dst); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		r := bytes.NewReader(z)
		zr, _ := zlib.NewReader(r)
		for b.Loop() {
			r.Reset(z)
			zr.(zlib.Resetter).Reset(r, nil)
			if _, err := io.ReadFull(zr, dst); err != nil {
				b.Fatal(err)
			}
		}
	})
}
