package detect

import (
	"encoding/base64"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/zricethezav/gitleaks/v8/detect/codec"
)

// segmentsIn is what mayDecode stands in for: whether gitleaks' decoder
// finds an encoded segment.
func segmentsIn(s string) bool {
	_, segs := codec.NewDecoder().Decode(s, nil)
	return len(segs) > 0
}

// percentOrUnicode: text where mayDecode answers yes without looking
// further (it may then say yes where the decoder finds nothing).
func percentOrUnicode(s string) bool {
	return strings.ContainsAny(s, "%\\") || strings.Contains(s, "U+")
}

// decodableText makes text of the kinds the decoder meets: identifiers,
// hex and base64 of printable and of binary bytes, padding, paths,
// digits, punctuation.
func decodableText(rng *rand.Rand) string {
	var b strings.Builder
	const ident = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
	pick := func(alphabet string, n int) string {
		out := make([]byte, n)
		for i := range out {
			out[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(out)
	}
	printableBytes := func(n int) []byte { return []byte(pick("abcdefghij KLMNOP:=/\"0123456789", n)) }
	binaryBytes := func(n int) []byte {
		out := make([]byte, n)
		for i := range out {
			out[i] = byte(rng.Uint32())
		}
		return out
	}
	for range 1 + rng.IntN(6) {
		switch rng.IntN(12) {
		case 0:
			b.WriteString(pick(ident, 4+rng.IntN(30)))
		case 1:
			b.WriteString(hex.EncodeToString(printableBytes(8 + rng.IntN(30))))
		case 2:
			b.WriteString(hex.EncodeToString(binaryBytes(8 + rng.IntN(30))))
		case 3:
			b.WriteString(base64.StdEncoding.EncodeToString(printableBytes(6 + rng.IntN(40))))
		case 4:
			b.WriteString(base64.RawURLEncoding.EncodeToString(printableBytes(6 + rng.IntN(40))))
		case 5:
			b.WriteString(base64.StdEncoding.EncodeToString(binaryBytes(6 + rng.IntN(40))))
		case 6:
			b.WriteString(pick("0123456789abcdef", 28+rng.IntN(10)) + pick(ident+"/+-", rng.IntN(24)))
		case 7:
			b.WriteString(strings.Repeat("=", rng.IntN(4)))
		case 8:
			b.WriteString(pick(" \t\n.,;:(){}\"'", 1+rng.IntN(3)))
		case 9:
			b.WriteString("lib/" + pick(ident, 5+rng.IntN(8)) + "/" + pick(ident+"-", 5+rng.IntN(12)) + ".c")
		case 10:
			b.WriteString(pick("0123456789", 1+rng.IntN(40)))
		default:
			b.WriteString(pick(ident+"0123456789/+-", 10+rng.IntN(30)))
		}
	}
	return b.String()
}

// TestMayDecodeAgreesWithTheDecoder: never no where the decoder finds a
// segment, and, where nothing is percent- or unicode-shaped, exactly
// the decoder's answer.
func TestMayDecodeAgreesWithTheDecoder(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 19))
	yes, no := 0, 0
	for range 20000 {
		s := decodableText(rng)
		want := segmentsIn(s)
		got := mayDecode(s)
		if want && !got {
			t.Fatalf("mayDecode says no, the decoder finds a segment in %q", s)
		}
		if !percentOrUnicode(s) && got != want {
			t.Fatalf("mayDecode says %v, the decoder %v, for %q", got, want, s)
		}
		if want {
			yes++
		} else {
			no++
		}
	}
	if yes < 2000 || no < 2000 {
		t.Errorf("the generated text is one-sided: %d with segments, %d without", yes, no)
	}
	for _, s := range []string{
		"%41", "x U+0041 y", `\u0041`, `\\U0041`, // percent- and unicode-shaped: yes
	} {
		if !mayDecode(s) {
			t.Errorf("mayDecode(%q) = false", s)
		}
	}
}

// FuzzMayDecode: whatever the bytes, mayDecode never says no where the
// decoder finds a segment, and agrees with it where nothing is percent-
// or unicode-shaped.
func FuzzMayDecode(f *testing.F) {
	rng := rand.New(rand.NewPCG(23, 29))
	for range 20 {
		f.Add(decodableText(rng))
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, got := segmentsIn(s), mayDecode(s)
		if want && !got {
			t.Fatalf("mayDecode says no, the decoder finds a segment in %q", s)
		}
		if !percentOrUnicode(s) && got != want {
			t.Fatalf("mayDecode says %v, the decoder %v, for %q", got, want, s)
		}
	})
}
