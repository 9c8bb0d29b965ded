package render

// Deterministic Helm rendering, for comparisons (Options.Deterministic).
//
// Helm gives templates functions whose result changes on every call: random
// strings (randAlphaNum and its kin, randBytes, randInt, uuidv4, shuffle),
// generated keys and certificates (genPrivateKey, genCA, genSelfSignedCert,
// genSignedCert and their *WithKey forms: a fresh key, a random serial,
// "now" as notBefore, a randomized ECDSA signature), salted hashes (bcrypt,
// htpasswd), encryptAES (a random IV), the clock (now, and date, ago,
// durationRound when given no time), and keys/values (Go's map order).
// A chart compared with itself would then differ from itself: a generated
// password changes a Secret and the checksum annotation of every pod
// template that hashes it, a test hook named x-test-{{ randAlphaNum 5 }} is
// a new object each time.
//
// With Options.Deterministic those functions are replaced, through the
// engine's CustomTemplateFuncs, by functions that return what Helm's would,
// drawn from a stream seeded by the release name, the namespace, the
// template being rendered (its full name, which starts with the chart's and
// any subchart's name), the function and its arguments, and the call's rank
// among the template's calls with the same function and arguments. Nothing
// else: not the chart's version (bumping it changes no generated value) and
// not the template's text (editing a template keeps its generated names, so
// that an edited object is reported as changed, not as one removed and one
// added). So a template renders the same on every run and on both sides of a
// change while what feeds it is the same; two calls still differ from one
// another as they do in Helm. The clock is detEpoch.
//
// The values are predictable by anyone who knows the release, namespace and
// template: they are for comparing renders, and only verify (and diff) ask
// for them. `aegis argocd generate`, whose output Argo CD applies, never
// does: it keeps Helm's own functions.
//
// Which template is rendering: a function does not see it, so every
// template the engine executes is wrapped in two markers, an action calling
// a function of this run (its name holds a random nonce, so that a chart
// cannot call it) before the template's text and one after it, on the
// template's first and last line (line numbers in errors do not move, and
// the markers write nothing; a template that does not parse is left as it
// is, so that its error is the one Helm gives). A template executed by another (include of a
// template file by name) counts as the includer's, like named templates and
// tpl strings.
//
// Keys: Go's crypto/rsa, crypto/ecdsa and crypto/ed25519 ignore the random
// source they are given since Go 1.26, so keys are built from the stream
// directly: an ed25519 key from a 32-byte seed, an ECDSA P-256 key from a
// scalar (ecdsa.ParseRawPrivateKey), an RSA key from two primes found by
// a sieve and math/big's ProbablyPrime(20) on the stream's candidates;
// crypto/dsa still reads its source. Certificates are signed with PKCS #1
// v1.5 (RSA) or ed25519, both deterministic, or RFC 6979 ECDSA (an ECDSA
// key's Sign with a nil source).

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/dsa" //nolint:staticcheck // sprig's genPrivateKey "dsa" makes DSA keys
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	cryptorand "crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"math/rand/v2"
	"net"
	"path"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"text/template/parse"
	"time"

	"golang.org/x/crypto/blowfish"
	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/engine"
)

// detEpoch is "now" for deterministic renders: now, date without a time,
// ago, durationRound of a time, and the notBefore of generated
// certificates (notAfter is detEpoch plus the days asked for).
var detEpoch = time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)

// detDomain separates these seeds from any other use of the same inputs;
// changing it changes every generated value.
const detDomain = "aegis deterministic helm v1"

// determinism is the state of one deterministic render.
type determinism struct {
	release, namespace string
	names              []string // template full names, by marker id
	depth              int      // marker nesting: 1 inside a top-level template
	current            string   // the template rendering at top level
	calls              map[string]int
}

// deterministic makes e's render of c deterministic: it wraps the templates
// of c and its subcharts in markers and sets e's custom functions. restore
// puts c's templates back.
func deterministic(e *engine.Engine, c *chart.Chart, vals common.Values) (restore func()) {
	d := &determinism{calls: map[string]int{}}
	if rel, ok := vals["Release"].(map[string]any); ok {
		d.release, _ = rel["Name"].(string)
		d.namespace, _ = rel["Namespace"].(string)
	}
	var nonce [8]byte
	_, _ = cryptorand.Read(nonce[:])
	enter := "aegisEnter" + hex.EncodeToString(nonce[:])
	leave := "aegisLeave" + hex.EncodeToString(nonce[:])

	type saved struct {
		c     *chart.Chart
		tpls  []*common.File
		files []*common.File
	}
	var undo []saved
	var mark func(c *chart.Chart)
	mark = func(c *chart.Chart) {
		for _, dep := range c.Dependencies() {
			mark(dep)
		}
		if c.Metadata != nil && c.Metadata.Type == "library" {
			return // only its named templates run, from other charts' templates
		}
		// A new slice: charts copied for an alias share the old one.
		tpls := make([]*common.File, len(c.Templates))
		full := c.ChartFullPath()
		for i, t := range c.Templates {
			tpls[i] = t
			if t == nil || strings.HasPrefix(path.Base(t.Name), "_") {
				continue // partials are not executed on their own
			}
			if !parses(t) {
				continue // the render fails: with the template's own error
			}
			id := len(d.names)
			d.names = append(d.names, path.Join(full, t.Name))
			data := make([]byte, 0, len(t.Data)+64)
			data = fmt.Appendf(data, "{{%s %d}}", enter, id)
			data = append(data, t.Data...)
			data = fmt.Appendf(data, "{{%s}}", leave)
			tpls[i] = &common.File{Name: t.Name, Data: data, ModTime: t.ModTime}
		}
		undo = append(undo, saved{c: c, tpls: c.Templates})
		c.Templates = tpls
	}
	mark(c)

	funcs := d.funcs()
	funcs[enter] = func(id int) (string, error) {
		if id < 0 || id >= len(d.names) {
			return "", fmt.Errorf("aegis: unknown template marker %d", id)
		}
		d.depth++
		if d.depth == 1 {
			d.current = d.names[id]
			clear(d.calls)
		}
		return "", nil
	}
	funcs[leave] = func() string {
		d.depth--
		return ""
	}
	e.CustomTemplateFuncs = funcs
	return func() {
		for _, s := range undo {
			s.c.Templates = s.tpls
		}
	}
}

// parses reports whether a template parses (whatever functions it names):
// after an unclosed action or comment the marker at the end would change
// the error the engine reports.
func parses(t *common.File) bool {
	tree := parse.New(t.Name)
	tree.Mode = parse.SkipFuncCheck
	_, err := tree.Parse(string(t.Data), "", "", map[string]*parse.Tree{})
	return err == nil
}

// stream returns the random stream of one call of fn with args in the
// current template.
func (d *determinism) stream(fn string, args ...any) *detStream {
	a, err := json.Marshal(args)
	if err != nil {
		a = fmt.Appendf(nil, "%#v", args)
	}
	key := fn + "\x00" + string(a)
	n := d.calls[key]
	d.calls[key] = n + 1
	h := sha256.New()
	for _, part := range []string{detDomain, d.release, d.namespace, d.current, key, strconv.Itoa(n)} {
		var l [8]byte
		binary.BigEndian.PutUint64(l[:], uint64(len(part)))
		h.Write(l[:])
		h.Write([]byte(part))
	}
	var seed [32]byte
	copy(seed[:], h.Sum(nil))
	return &detStream{rand.NewChaCha8(seed)}
}

// detStream is a deterministic byte stream (ChaCha8, whose output Go
// specifies) with the draws the functions need.
type detStream struct{ c *rand.ChaCha8 }

func (s *detStream) Read(p []byte) (int, error) { return s.c.Read(p) }

// intn is uniform in [0, n), n > 0, by rejection (so its values do not
// depend on any library's algorithm).
func (s *detStream) intn(n int) int {
	limit := math.MaxUint64 - math.MaxUint64%uint64(n)
	for {
		if v := s.c.Uint64(); v < limit {
			return int(v % uint64(n))
		}
	}
}

func (s *detStream) pick(count int, chars string) string {
	if count <= 0 {
		return "" // sprig's result for a negative count too (the error is dropped)
	}
	b := make([]byte, count)
	for i := range b {
		b[i] = chars[s.intn(len(chars))]
	}
	return string(b)
}

const (
	detAlpha   = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	detNumeric = "0123456789"
)

// detASCII is what randAscii draws from: the printable ASCII characters,
// space included.
var detASCII = func() string {
	var b strings.Builder
	for c := byte(32); c < 127; c++ {
		b.WriteByte(c)
	}
	return b.String()
}()

// funcs are the replacements, with sprig's signatures and results.
func (d *determinism) funcs() template.FuncMap {
	return template.FuncMap{
		"randAlphaNum": func(n int) string { return d.stream("randAlphaNum", n).pick(n, detAlpha+detNumeric) },
		"randAlpha":    func(n int) string { return d.stream("randAlpha", n).pick(n, detAlpha) },
		"randNumeric":  func(n int) string { return d.stream("randNumeric", n).pick(n, detNumeric) },
		"randAscii":    func(n int) string { return d.stream("randAscii", n).pick(n, detASCII) },
		"randBytes": func(n int) (string, error) {
			if n < 0 {
				return "", fmt.Errorf("randBytes: negative count %d", n)
			}
			b := make([]byte, n)
			_, _ = d.stream("randBytes", n).Read(b)
			return base64.StdEncoding.EncodeToString(b), nil
		},
		"randInt": func(lo, hi int) (int, error) {
			if n := hi - lo; n <= 0 || hi <= lo {
				return 0, errors.New("invalid argument to Intn") // sprig panics with this
			}
			return lo + d.stream("randInt", lo, hi).intn(hi-lo), nil
		},
		"uuidv4": func() string {
			var b [16]byte
			_, _ = d.stream("uuidv4").Read(b[:])
			b[6] = b[6]&0x0f | 0x40 // version 4
			b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
			x := hex.EncodeToString(b[:])
			return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
		},
		"shuffle": func(str string) string {
			r := []rune(str)
			s := d.stream("shuffle", str)
			for i := len(r) - 1; i > 0; i-- {
				j := s.intn(i + 1)
				r[i], r[j] = r[j], r[i]
			}
			return string(r)
		},

		"genPrivateKey": func(typ string) string {
			priv, err := detPrivateKey(d.stream("genPrivateKey", typ), typ)
			if err != nil {
				return err.Error() // sprig returns its errors as the result
			}
			return string(pem.EncodeToMemory(pemBlockForKey(priv)))
		},
		"genCA": func(cn string, days int) (detCertificate, error) {
			s := d.stream("genCA", cn, days)
			priv, err := detRSAKey(s, 2048)
			if err != nil {
				return detCertificate{}, fmt.Errorf("error generating rsa key: %s", err)
			}
			return detCA(s, cn, days, priv)
		},
		"genCAWithKey": func(cn string, days int, privPEM string) (detCertificate, error) {
			priv, err := parsePrivateKeyPEM(privPEM)
			if err != nil {
				return detCertificate{}, fmt.Errorf("parsing private key: %s", err)
			}
			return detCA(d.stream("genCAWithKey", cn, days, privPEM), cn, days, priv)
		},
		"genSelfSignedCert": func(cn string, ips, dns []any, days int) (detCertificate, error) {
			s := d.stream("genSelfSignedCert", cn, ips, dns, days)
			priv, err := detRSAKey(s, 2048)
			if err != nil {
				return detCertificate{}, fmt.Errorf("error generating rsa key: %s", err)
			}
			return detSelfSigned(s, cn, ips, dns, days, priv)
		},
		"genSelfSignedCertWithKey": func(cn string, ips, dns []any, days int, privPEM string) (detCertificate, error) {
			priv, err := parsePrivateKeyPEM(privPEM)
			if err != nil {
				return detCertificate{}, fmt.Errorf("parsing private key: %s", err)
			}
			return detSelfSigned(d.stream("genSelfSignedCertWithKey", cn, ips, dns, days, privPEM), cn, ips, dns, days, priv)
		},
		"genSignedCert": func(cn string, ips, dns []any, days int, ca any) (detCertificate, error) {
			crt, key, err := certificateOf("genSignedCert", ca)
			if err != nil {
				return detCertificate{}, err
			}
			s := d.stream("genSignedCert", cn, ips, dns, days, crt, key)
			priv, err := detRSAKey(s, 2048)
			if err != nil {
				return detCertificate{}, fmt.Errorf("error generating rsa key: %s", err)
			}
			return detSigned(s, cn, ips, dns, days, crt, key, priv)
		},
		"genSignedCertWithKey": func(cn string, ips, dns []any, days int, ca any, privPEM string) (detCertificate, error) {
			crt, key, err := certificateOf("genSignedCertWithKey", ca)
			if err != nil {
				return detCertificate{}, err
			}
			priv, err := parsePrivateKeyPEM(privPEM)
			if err != nil {
				return detCertificate{}, fmt.Errorf("parsing private key: %s", err)
			}
			return detSigned(d.stream("genSignedCertWithKey", cn, ips, dns, days, crt, key, privPEM), cn, ips, dns, days, crt, key, priv)
		},

		"bcrypt": func(input string) string {
			return detBcrypt(d.stream("bcrypt", input), input)
		},
		"htpasswd": func(user, password string) string {
			if strings.Contains(user, ":") {
				return fmt.Sprintf("invalid username: %s", user)
			}
			return fmt.Sprintf("%s:%s", user, detBcrypt(d.stream("htpasswd", user, password), password))
		},
		"encryptAES": func(password, plaintext string) (string, error) {
			return detEncryptAES(d.stream("encryptAES", password, plaintext), password, plaintext)
		},

		"now":            func() time.Time { return detEpoch },
		"date":           func(layout string, date any) string { return detDateInZone(layout, date, "Local") },
		"dateInZone":     detDateInZone,
		"date_in_zone":   detDateInZone,
		"htmlDate":       func(date any) string { return detDateInZone("2006-01-02", date, "Local") },
		"htmlDateInZone": func(date any, zone string) string { return detDateInZone("2006-01-02", date, zone) },
		"ago":            detAgo,
		"durationRound":  detDurationRound,

		"keys":   detKeys,
		"values": detValues,
	}
}

// detTime is sprig's reading of a date argument, detEpoch for anything
// that is not a time (sprig: time.Now()).
func detTime(date any) time.Time {
	switch v := date.(type) {
	case time.Time:
		return v
	case *time.Time:
		if v != nil {
			return *v
		}
	case int64:
		return time.Unix(v, 0)
	case int:
		return time.Unix(int64(v), 0)
	case int32:
		return time.Unix(int64(v), 0)
	}
	return detEpoch
}

func detDateInZone(layout string, date any, zone string) string {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		loc, _ = time.LoadLocation("UTC")
	}
	return detTime(date).In(loc).Format(layout)
}

func detAgo(date any) string {
	t := detEpoch
	switch v := date.(type) {
	case time.Time:
		t = v
	case int64:
		t = time.Unix(v, 0)
	case int:
		t = time.Unix(int64(v), 0)
	}
	return detEpoch.Sub(t).Round(time.Second).String()
}

// detDurationRound is sprig's durationRound with a time measured from
// detEpoch.
func detDurationRound(duration any) string {
	var d time.Duration
	switch v := duration.(type) {
	case string:
		d, _ = time.ParseDuration(v)
	case int64:
		d = time.Duration(v)
	case time.Time:
		d = detEpoch.Sub(v)
	}
	u := uint64(d)
	if d < 0 {
		u = -u
	}
	const (
		year   = uint64(time.Hour) * 24 * 365
		month  = uint64(time.Hour) * 24 * 30
		day    = uint64(time.Hour) * 24
		hour   = uint64(time.Hour)
		minute = uint64(time.Minute)
		second = uint64(time.Second)
	)
	switch {
	case u > year:
		return strconv.FormatUint(u/year, 10) + "y"
	case u > month:
		return strconv.FormatUint(u/month, 10) + "mo"
	case u > day:
		return strconv.FormatUint(u/day, 10) + "d"
	case u > hour:
		return strconv.FormatUint(u/hour, 10) + "h"
	case u > minute:
		return strconv.FormatUint(u/minute, 10) + "m"
	case u > second:
		return strconv.FormatUint(u/second, 10) + "s"
	}
	return "0s"
}

// detKeys is sprig's keys with each dict's keys in sorted order (sprig's
// follow Go's map order, different on every call).
func detKeys(dicts ...map[string]any) []string {
	k := []string{}
	for _, dict := range dicts {
		k = append(k, sortedKeys(dict)...)
	}
	return k
}

// detValues is sprig's values in the order of the sorted keys.
func detValues(dict map[string]any) []any {
	v := []any{}
	for _, k := range sortedKeys(dict) {
		v = append(v, dict[k])
	}
	return v
}

func sortedKeys(m map[string]any) []string {
	k := make([]string, 0, len(m))
	for key := range m {
		k = append(k, key)
	}
	sort.Strings(k)
	return k
}

// detCertificate is what the gen* functions return (sprig's certificate:
// templates read .Cert and .Key).
type detCertificate struct {
	Cert string
	Key  string
}

// certificateOf reads the Cert and Key of a CA given to genSignedCert*:
// ours, or sprig's (from buildCustomCert).
func certificateOf(fn string, ca any) (string, string, error) {
	v := reflect.ValueOf(ca)
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if v.Kind() == reflect.Struct {
		c, k := v.FieldByName("Cert"), v.FieldByName("Key")
		if c.IsValid() && k.IsValid() && c.Kind() == reflect.String && k.Kind() == reflect.String {
			return c.String(), k.String(), nil
		}
	}
	return "", "", fmt.Errorf("%s: the CA must be a certificate (genCA, buildCustomCert), not %T", fn, ca)
}

// detPrivateKey is genPrivateKey's key of typ.
func detPrivateKey(s *detStream, typ string) (any, error) {
	switch typ {
	case "", "rsa":
		k, err := detRSAKey(s, 4096)
		if err != nil {
			return nil, fmt.Errorf("failed to generate private key: %s", err)
		}
		return k, nil
	case "dsa":
		key := new(dsa.PrivateKey)
		if err := dsa.GenerateParameters(&key.Parameters, s, dsa.L2048N256); err != nil {
			return nil, fmt.Errorf("failed to generate dsa params: %s", err)
		}
		if err := dsa.GenerateKey(key, s); err != nil {
			return nil, fmt.Errorf("failed to generate private key: %s", err)
		}
		return key, nil
	case "ecdsa":
		return detECDSAKey(s), nil
	case "ed25519":
		seed := make([]byte, ed25519.SeedSize)
		_, _ = s.Read(seed)
		return ed25519.NewKeyFromSeed(seed), nil
	default:
		return nil, errors.New("Unknown type " + typ)
	}
}

// detECDSAKey is a P-256 key whose scalar comes from s.
func detECDSAKey(s *detStream) *ecdsa.PrivateKey {
	b := make([]byte, 32)
	for {
		_, _ = s.Read(b)
		if k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), b); err == nil {
			return k // else the scalar was zero or not below the order: draw again
		}
	}
}

// smallPrimes are the odd primes below 2^14, for sieving prime candidates.
var smallPrimes = sync.OnceValue(func() []uint64 {
	const n = 1 << 14
	composite := make([]bool, n)
	var ps []uint64
	for i := 3; i < n; i += 2 {
		if composite[i] {
			continue
		}
		ps = append(ps, uint64(i))
		for j := i * i; j < n; j += 2 * i {
			composite[j] = true
		}
	}
	return ps
})

// detRSAKey is an RSA key of bits bits, e = 65537, from s.
func detRSAKey(s *detStream, bits int) (*rsa.PrivateKey, error) {
	if bits < 1024 {
		return nil, fmt.Errorf("%d-bit RSA keys are refused", bits)
	}
	e := big.NewInt(65537)
	one := big.NewInt(1)
	for range 100 {
		p := detPrime(s, (bits+1)/2)
		q := detPrime(s, bits/2)
		if p.Cmp(q) == 0 {
			continue
		}
		n := new(big.Int).Mul(p, q)
		if n.BitLen() != bits {
			continue
		}
		phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
		dd := new(big.Int).ModInverse(e, phi)
		if dd == nil {
			continue
		}
		key := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: 65537}, D: dd, Primes: []*big.Int{p, q}}
		if err := key.Validate(); err != nil {
			continue
		}
		key.Precompute()
		return key, nil
	}
	return nil, errors.New("no RSA key found") // not reached in practice
}

// detPrime is a prime of exactly bits bits (its top two bits set, so that
// the product of two is full length) with p-1 prime to 65537: the first
// that ProbablyPrime(20) accepts at or after a candidate drawn from s,
// among numbers no small prime divides.
func detPrime(s *detStream, bits int) *big.Int {
	small := smallPrimes()
	mods := make([]uint64, len(small))
	b := make([]byte, (bits+7)/8)
	excess := uint(len(b)*8 - bits)
	for {
		_, _ = s.Read(b)
		b[0] &= 0xff >> excess
		if excess <= 6 {
			b[0] |= 0xc0 >> excess
		} else {
			b[0] |= 1
			b[1] |= 0x80
		}
		b[len(b)-1] |= 1
		base := new(big.Int).SetBytes(b)
		r := new(big.Int)
		for i, sp := range small {
			mods[i] = r.Mod(base, new(big.Int).SetUint64(sp)).Uint64()
		}
		modE := r.Mod(base, big.NewInt(65537)).Uint64()
		cand := new(big.Int)
	next:
		for delta := uint64(0); delta < 1<<16; delta += 2 {
			for i, sp := range small {
				if (mods[i]+delta)%sp == 0 {
					continue next
				}
			}
			if (modE+delta)%65537 == 1 {
				continue
			}
			cand.Add(base, new(big.Int).SetUint64(delta))
			if cand.BitLen() != bits {
				break
			}
			if cand.ProbablyPrime(20) {
				return cand
			}
		}
	}
}

// detSerial is a certificate serial number in [1, 2^128), from s (sprig:
// crypto/rand below 2^128).
func detSerial(s *detStream) *big.Int {
	b := make([]byte, 16)
	for {
		_, _ = s.Read(b)
		if n := new(big.Int).SetBytes(b); n.Sign() > 0 {
			return n
		}
	}
}

func detCA(s *detStream, cn string, days int, priv crypto.PrivateKey) (detCertificate, error) {
	tmpl, err := detCertTemplate(s, cn, nil, nil, days)
	if err != nil {
		return detCertificate{}, err
	}
	tmpl.KeyUsage = x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign
	tmpl.IsCA = true
	return detCertAndKey(s, tmpl, priv, tmpl, priv)
}

func detSelfSigned(s *detStream, cn string, ips, dns []any, days int, priv crypto.PrivateKey) (detCertificate, error) {
	tmpl, err := detCertTemplate(s, cn, ips, dns, days)
	if err != nil {
		return detCertificate{}, err
	}
	return detCertAndKey(s, tmpl, priv, tmpl, priv)
}

func detSigned(s *detStream, cn string, ips, dns []any, days int, caCert, caKey string, priv crypto.PrivateKey) (detCertificate, error) {
	block, _ := pem.Decode([]byte(caCert))
	if block == nil {
		return detCertificate{}, errors.New("unable to decode certificate")
	}
	signer, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return detCertificate{}, fmt.Errorf("error parsing certificate: decodedSignerCert.Bytes: %s", err)
	}
	signerKey, err := parsePrivateKeyPEM(caKey)
	if err != nil {
		return detCertificate{}, fmt.Errorf("error parsing private key: %s", err)
	}
	tmpl, err := detCertTemplate(s, cn, ips, dns, days)
	if err != nil {
		return detCertificate{}, err
	}
	return detCertAndKey(s, tmpl, priv, signer, signerKey)
}

// detCertTemplate is sprig's getBaseCertTemplate with a serial from s and
// detEpoch for now.
func detCertTemplate(s *detStream, cn string, ips, dns []any, days int) (*x509.Certificate, error) {
	ipAddresses := []net.IP{}
	for _, ip := range ips {
		str, ok := ip.(string)
		if !ok {
			return nil, fmt.Errorf("error parsing ip: %v is not a string", ip)
		}
		parsed := net.ParseIP(str)
		if parsed == nil {
			return nil, fmt.Errorf("error parsing ip: %s", str)
		}
		ipAddresses = append(ipAddresses, parsed)
	}
	dnsNames := []string{}
	for _, n := range dns {
		str, ok := n.(string)
		if !ok {
			return nil, fmt.Errorf("error processing alternate dns name: %v is not a string", n)
		}
		dnsNames = append(dnsNames, str)
	}
	return &x509.Certificate{
		SerialNumber:          detSerial(s),
		Subject:               pkix.Name{CommonName: cn},
		IPAddresses:           ipAddresses,
		DNSNames:              dnsNames,
		NotBefore:             detEpoch,
		NotAfter:              detEpoch.Add(time.Hour * 24 * time.Duration(days)),
		KeyUsage:              x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}, nil
}

// rfc6979Signer signs with an ECDSA key deterministically (RFC 6979): the
// key's own Sign with no random source. x509.CreateCertificate would give
// the key a source and get a randomized signature.
type rfc6979Signer struct{ k *ecdsa.PrivateKey }

func (s rfc6979Signer) Public() crypto.PublicKey { return s.k.Public() }
func (s rfc6979Signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.k.Sign(nil, digest, opts)
}

func detCertAndKey(s *detStream, tmpl *x509.Certificate, signee crypto.PrivateKey, parent *x509.Certificate, signing crypto.PrivateKey) (detCertificate, error) {
	pub, ok := signee.(interface{ Public() crypto.PublicKey })
	var signeePub crypto.PublicKey
	switch {
	case ok:
		signeePub = pub.Public()
	default:
		if k, isDSA := signee.(*dsa.PrivateKey); isDSA {
			signeePub = &k.PublicKey
		} else {
			return detCertificate{}, fmt.Errorf("error retrieving public key from signee key: unable to get public key for type %T", signee)
		}
	}
	if k, isEC := signing.(*ecdsa.PrivateKey); isEC {
		signing = rfc6979Signer{k}
	}
	der, err := x509.CreateCertificate(s, tmpl, parent, signeePub, signing)
	if err != nil {
		return detCertificate{}, fmt.Errorf("error creating certificate: %s", err)
	}
	block := pemBlockForKey(signee)
	if block == nil {
		return detCertificate{}, errors.New("error pem-encoding key")
	}
	return detCertificate{
		Cert: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		Key:  string(pem.EncodeToMemory(block)),
	}, nil
}

// dsaKeyFormat is sprig's DSA PEM body.
type dsaKeyFormat struct {
	Version       int
	P, Q, G, Y, X *big.Int
}

// pemBlockForKey is sprig's.
func pemBlockForKey(priv any) *pem.Block {
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		return &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
	case *dsa.PrivateKey:
		b, _ := asn1.Marshal(dsaKeyFormat{P: k.P, Q: k.Q, G: k.G, Y: k.Y, X: k.X})
		return &pem.Block{Type: "DSA PRIVATE KEY", Bytes: b}
	case *ecdsa.PrivateKey:
		b, _ := x509.MarshalECPrivateKey(k)
		return &pem.Block{Type: "EC PRIVATE KEY", Bytes: b}
	default:
		b, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil
		}
		return &pem.Block{Type: "PRIVATE KEY", Bytes: b}
	}
}

// parsePrivateKeyPEM is sprig's.
func parsePrivateKeyPEM(s string) (crypto.PrivateKey, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("no PEM data in input")
	}
	if block.Type == "PRIVATE KEY" {
		priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("decoding PEM as PKCS#8: %s", err)
		}
		return priv, nil
	} else if !strings.HasSuffix(block.Type, " PRIVATE KEY") {
		return nil, fmt.Errorf("no private key data in PEM block of type %s", block.Type)
	}
	switch block.Type[:len(block.Type)-12] {
	case "RSA":
		priv, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing RSA private key from PEM: %s", err)
		}
		return priv, nil
	case "EC":
		priv, err := x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing EC private key from PEM: %s", err)
		}
		return priv, nil
	case "DSA":
		var k dsaKeyFormat
		if _, err := asn1.Unmarshal(block.Bytes, &k); err != nil {
			return nil, fmt.Errorf("parsing DSA private key from PEM: %s", err)
		}
		return &dsa.PrivateKey{PublicKey: dsa.PublicKey{Parameters: dsa.Parameters{P: k.P, Q: k.Q, G: k.G}, Y: k.Y}, X: k.X}, nil
	default:
		return nil, fmt.Errorf("invalid private key type %s", block.Type)
	}
}

// bcryptEncoding is bcrypt's base64 (no padding).
var bcryptEncoding = base64.NewEncoding("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789").WithPadding(base64.NoPadding)

// detBcrypt is golang.org/x/crypto/bcrypt's GenerateFromPassword at the
// default cost (sprig's bcrypt) with its 16-byte salt from s: the same
// algorithm ($2a$10$, salt, hash), which that package's
// CompareHashAndPassword accepts.
func detBcrypt(s *detStream, password string) string {
	const cost = 10
	if len(password) > 72 {
		return "failed to encrypt string with bcrypt: bcrypt: password length exceeds 72 bytes"
	}
	salt := make([]byte, 16)
	_, _ = s.Read(salt)
	key := append([]byte(password), 0) // C bcrypt's trailing NUL
	c, err := blowfish.NewSaltedCipher(key, salt)
	if err != nil {
		return fmt.Sprintf("failed to encrypt string with bcrypt: %s", err)
	}
	for range 1 << cost {
		blowfish.ExpandKey(key, c)
		blowfish.ExpandKey(salt, c)
	}
	data := []byte("OrpheanBeholderScryDoubt")
	for i := 0; i < 24; i += 8 {
		for range 64 {
			c.Encrypt(data[i:i+8], data[i:i+8])
		}
	}
	return fmt.Sprintf("$2a$%02d$%s%s", cost, bcryptEncoding.EncodeToString(salt), bcryptEncoding.EncodeToString(data[:23]))
}

// detEncryptAES is sprig's encryptAES (AES-256-CBC, PKCS #7 padding, the IV
// first, base64) with its IV from s.
func detEncryptAES(s *detStream, password, plaintext string) (string, error) {
	if plaintext == "" {
		return "", nil
	}
	key := make([]byte, 32)
	copy(key, password)
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	content := []byte(plaintext)
	pad := block.BlockSize() - len(content)%block.BlockSize()
	content = append(content, bytes.Repeat([]byte{byte(pad)}, pad)...)
	out := make([]byte, aes.BlockSize+len(content))
	_, _ = s.Read(out[:aes.BlockSize])
	cipher.NewCBCEncrypter(block, out[:aes.BlockSize]).CryptBlocks(out[aes.BlockSize:], content)
	return base64.StdEncoding.EncodeToString(out), nil
}
