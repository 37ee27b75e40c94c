// jsonoracle: Go's encoding/json as the oracle for kscript's json.encode.
//
// Usage: jsonoracle [-n COUNT] [-seed SEED]
//
// It generates COUNT deterministic pseudo-random values (nested maps and
// lists; strings with control characters, <>&, U+2028/U+2029, invalid UTF-8;
// floats across magnitudes with 1e21, 1e-7, -0, subnormals; int64 extremes)
// and prints four lines for each:
//
//	V <the value in a neutral transport form>
//	M <hex of json.Marshal(v)>
//	I <hex of json.MarshalIndent(v, "", "  ")>
//	H <hex of an Encoder with SetEscapeHTML(false), trailing newline removed>
//
// The transport form keeps every type exact and is easy to read from Lua:
//
//	n  null            t / f  true / false
//	i<decimal>;        an int64
//	d<16 hex digits>;  a float64 by its IEEE 754 bits
//	s<hex bytes>;      a string (any bytes)
//	[ values ]         an array
//	{ s<key>; value ... }  an object
//
// tests/lua/json-oracle.t builds and runs it and compares kscript's output
// byte for byte.  Standard library only.
package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
)

var rng *rand.Rand

// string pieces: plain text, every escaping rule, and bytes that are not UTF-8
var pieces = []string{
	"a", "b", "z", "A", "Z", "0", "9", " ", "name", "metadata", "kube-system",
	"\"", "\\", "/", "<", ">", "&", "'", "\x00", "\x01", "\x08", "\t", "\n",
	"\x0b", "\x0c", "\r", "\x1b", "\x1f", "\x7f", "\u2028", "\u2029", "é",
	"€", "😀", "中", "\u0080", "\u00a0", "\ufeff", "\ufffd",
	"\x80", "\xff", "\xc0\xaf", "\xe2\x82", "\xed\xa0\x80", "\xf4\x90\x80\x80",
	"\xf0\x9f\x98", "\xc3",
}

var floats = []float64{
	0, math.Copysign(0, -1), 1, -1, 0.1, 0.5, 1.5, 3, 100, 1e6, 1e15, 1e20, 1e21,
	1e22, 1e-6, 1e-7, 1.5e-7, 9.999999999999999e20, 123456789.123, 1.0 / 3,
	2.2250738585072014e-308, 5e-324, math.MaxFloat64, -math.MaxFloat64,
	9007199254740992, 9007199254740993, 9223372036854775808, 18446744073709551616,
	0.30000000000000004, 4.35, -2.5e-10, 1e300, 1e-300, math.Ldexp(1, -778),
}

var ints = []int64{
	0, 1, -1, 42, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1,
	1 << 53, 1<<53 + 1, -(1 << 53) - 1, math.MaxInt32, math.MinInt32, 1e15, 1e18,
}

func genString() string {
	var b strings.Builder
	n := rng.Intn(12)
	if rng.Intn(20) == 0 {
		n = 40 + rng.Intn(100) // now and then a long one: the 16-byte fast paths
	}
	for i := 0; i < n; i++ {
		if rng.Intn(3) == 0 {
			b.WriteString(pieces[rng.Intn(len(pieces))])
		} else {
			b.WriteByte(byte('a' + rng.Intn(26)))
		}
	}
	return b.String()
}

func genFloat() float64 {
	for {
		var f float64
		switch rng.Intn(4) {
		case 0:
			f = floats[rng.Intn(len(floats))]
		case 1: // random bits: every magnitude
			f = math.Float64frombits(rng.Uint64())
		case 2: // decimal-looking numbers around the format switches
			f = float64(rng.Int63n(1000000)) * math.Pow(10, float64(rng.Intn(60)-30))
		default:
			f = rng.NormFloat64() * math.Pow(10, float64(rng.Intn(10)-3))
		}
		if rng.Intn(2) == 0 {
			f = -f
		}
		if !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f
		}
	}
}

func genInt() int64 {
	if rng.Intn(3) == 0 {
		return ints[rng.Intn(len(ints))]
	}
	return rng.Int63n(1<<40) - 1<<39
}

func gen(depth int) any {
	k := rng.Intn(10)
	if depth >= 5 {
		k = rng.Intn(6)
	}
	switch k {
	case 0:
		return nil
	case 1:
		return rng.Intn(2) == 0
	case 2:
		return genInt()
	case 3:
		return genFloat()
	case 4, 5:
		return genString()
	case 6, 7:
		n := rng.Intn(5)
		a := make([]any, n)
		for i := range a {
			a[i] = gen(depth + 1)
		}
		return a
	default:
		n := rng.Intn(6)
		m := make(map[string]any, n)
		for i := 0; i < n; i++ {
			m[genString()] = gen(depth + 1)
		}
		return m
	}
}

func transport(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteByte('n')
	case bool:
		if x {
			b.WriteByte('t')
		} else {
			b.WriteByte('f')
		}
	case int64:
		b.WriteString("i" + strconv.FormatInt(x, 10) + ";")
	case float64:
		fmt.Fprintf(b, "d%016x;", math.Float64bits(x))
	case string:
		b.WriteString("s" + hex.EncodeToString([]byte(x)) + ";")
	case []any:
		b.WriteByte('[')
		for _, e := range x {
			transport(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys) // the output is a function of the seed
		b.WriteByte('{')
		for _, k := range keys {
			b.WriteString("s" + hex.EncodeToString([]byte(k)) + ";")
			transport(b, x[k])
		}
		b.WriteByte('}')
	default:
		panic(fmt.Sprintf("unexpected %T", v))
	}
}

func main() {
	n := flag.Int("n", 3000, "values to generate")
	seed := flag.Int64("seed", 1, "random seed")
	flag.Parse()
	rng = rand.New(rand.NewSource(*seed))
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for i := 0; i < *n; i++ {
		v := gen(0)
		var t strings.Builder
		transport(&t, v)
		m, err := json.Marshal(v)
		if err != nil {
			fmt.Fprintln(os.Stderr, "jsonoracle:", err)
			os.Exit(1)
		}
		ind, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			fmt.Fprintln(os.Stderr, "jsonoracle:", err)
			os.Exit(1)
		}
		var h bytes.Buffer
		enc := json.NewEncoder(&h)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			fmt.Fprintln(os.Stderr, "jsonoracle:", err)
			os.Exit(1)
		}
		fmt.Fprintf(w, "V %s\nM %x\nI %x\nH %x\n", t.String(), m, ind, bytes.TrimSuffix(h.Bytes(), []byte("\n")))
	}
}
