package analyzer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/vmcore/vmcore/elfdump"
	"github.com/vmcore/vmcore/vmcore"
)

// A profile is what the analyses need from one kernel build's debuginfo,
// distilled on first use: every symbol (at its link-time address, so any
// dump of the build can use it whatever its KASLR offset) and the answer
// to every type question asked (sizes, member offsets, enumerators). The
// next dump of the same build starts from the profile in milliseconds
// instead of decoding kallsyms and parsing BTF or DWARF again.

const profileMagic = "VMCPROF2" // 1: symbol records; 2: symbol columns

// maxProfile bounds a profile file read back from the cache.
const maxProfile = 256 << 20

// profileTypes holds the recorded type answers.
type profileTypes struct {
	Sizes   map[string]uint64 `json:"sizes"`
	Offsets map[string]uint64 `json:"offsets"`
	Enums   map[string]int64  `json:"enums"`
	Missing map[string]bool   `json:"missing"` // questions the source could not answer
	// Lens and EnumsIn answer layout.go's questions: array lengths by
	// "struct.member", enumerators by "enum:enumerator".
	Lens    map[string]uint64 `json:"lens,omitempty"`
	EnumsIn map[string]int64  `json:"enums_in,omitempty"`
}

type profileMeta struct {
	BuildID string       `json:"build_id"`
	Source  string       `json:"source"`
	Types   profileTypes `json:"types"`
	// Lines holds the DWARF answers for frames seen (function, file:line
	// and inlined calls), by link-time pc in hex.
	Lines map[string][]Location `json:"lines,omitempty"`
}

// IsBuildID reports whether s is a lower-case hex build-id of 4 to 64
// bytes, safe as a file name. (A regexp with a counted repetition would be
// compiled at every start-up of every binary that links the analyzer.)
func IsBuildID(s string) bool {
	if len(s) < 8 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// profileKinds names the profile file of each debuginfo source: the two
// kallsyms tiers share one, whose metadata says which found the tables.
var profileKinds = map[string]string{SourceBTF: "btf", SourceKallsymsScan: "btf", SourceSystemMap: "sysmap", SourceDWARF: "dwarf"}

func sameProfile(a, b string) bool {
	return profileKinds[a] != "" && profileKinds[a] == profileKinds[b]
}

// profilePath names a build's file in the profile directory:
// BUILD-ID.KIND.ext (ext "profile", or "nodata" for noteNoDataSymbols).
func profilePath(dir, buildID, source, ext string) (string, bool) {
	kind, ok := profileKinds[source]
	if !IsBuildID(buildID) || !ok {
		return "", false
	}
	return filepath.Join(dir, buildID+"."+kind+"."+ext), true
}

// recordingTypes answers from a profile when it can, and otherwise from
// the real source (opened only on a miss), recording every answer so the
// profile can be saved with it.
type recordingTypes struct {
	mu      sync.Mutex
	p       profileTypes
	dirty   bool
	open    func() (Types, error)
	real    Types
	openErr error
}

func newRecordingTypes(p profileTypes, open func() (Types, error)) *recordingTypes {
	if p.Sizes == nil {
		p = profileTypes{Sizes: map[string]uint64{}, Offsets: map[string]uint64{}, Enums: map[string]int64{}, Missing: map[string]bool{}}
	}
	return &recordingTypes{p: p, open: open}
}

func (r *recordingTypes) source() (Types, error) {
	if r.real == nil && r.openErr == nil {
		r.real, r.openErr = r.open()
	}
	return r.real, r.openErr
}

// answer serves key from the profile or asks the real source.
func (r *recordingTypes) answer(key string, cached func() (uint64, bool), ask func(Types) (uint64, error), store func(uint64)) (uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := cached(); ok {
		return v, nil
	}
	if r.p.Missing[key] {
		return 0, fmt.Errorf("%w: %s", ErrNoType, key)
	}
	t, err := r.source()
	if err != nil {
		return 0, err
	}
	v, err := ask(t)
	if errors.Is(err, ErrNoType) {
		r.p.Missing[key], r.dirty = true, true
	}
	if err != nil {
		return 0, err
	}
	store(v)
	r.dirty = true
	return v, nil
}

func (r *recordingTypes) Size(typ string) (uint64, error) {
	return r.answer("size:"+typ,
		func() (uint64, bool) { v, ok := r.p.Sizes[typ]; return v, ok },
		func(t Types) (uint64, error) { return t.Size(typ) },
		func(v uint64) { r.p.Sizes[typ] = v })
}

func (r *recordingTypes) Offset(typ, path string) (uint64, error) {
	key := typ + "." + path
	return r.answer("offset:"+key,
		func() (uint64, bool) { v, ok := r.p.Offsets[key]; return v, ok },
		func(t Types) (uint64, error) { return t.Offset(typ, path) },
		func(v uint64) { r.p.Offsets[key] = v })
}

func (r *recordingTypes) Enum(name string) (int64, error) {
	v, err := r.answer("enum:"+name,
		func() (uint64, bool) { v, ok := r.p.Enums[name]; return uint64(v), ok },
		func(t Types) (uint64, error) { v, err := t.Enum(name); return uint64(v), err },
		func(v uint64) { r.p.Enums[name] = int64(v) })
	return int64(v), err
}

// encodeProfile writes magic, the JSON metadata, the symbol table at
// link-time addresses (slide undone) in columns — count n, addresses
// [n]u64, sizes [n]u32, types [n]u8, name ends [n]u32, the names, name
// order [n]u32 — and the vmlinux ORC table, at link-time ips, in
// orcTable's records. All little-endian: a profile is read in place.
func encodeProfile(meta profileMeta, syms *symbolTable, orc *orcTable, slide kaslr) ([]byte, error) {
	j, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	n := syms.Len()
	b := make([]byte, 0, len(profileMagic)+8+len(j)+21*n+len(syms.names)+orcRecordLen*orcLen(orc))
	b = append(b, profileMagic...)
	b = le.AppendUint32(b, uint32(len(j)))
	b = append(b, j...)
	b = le.AppendUint32(b, uint32(n))
	for i := range n {
		b = le.AppendUint64(b, slide.undo(syms.addr(i)))
	}
	b = append(b, syms.sizes...)
	b = append(b, syms.types...)
	b = append(b, syms.ends...)
	b = append(b, syms.names...)
	b = append(b, syms.order...)
	b = le.AppendUint32(b, uint32(orcLen(orc)))
	for i := range orcLen(orc) {
		b = appendORCRecord(b, orc.ip(i)-slide.offset, orc.entry(i))
	}
	return b, nil
}

// profileReader takes validated pieces off the front of a profile.
type profileReader struct {
	b   []byte
	err error
}

func (r *profileReader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = fmt.Errorf("analyzer: profile: %s runs past the end", what)
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *profileReader) count(width int, what string) int {
	p := r.take(4, what+" count")
	if p == nil {
		return 0
	}
	n := int(le.Uint32(p))
	if n > len(r.b)/width {
		r.err = fmt.Errorf("analyzer: profile: %d %s exceed the file", n, what)
		return 0
	}
	return n
}

func (r *profileReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("analyzer: profile: %s", what)
	}
}

// decodeProfile parses a profile file, validating every length, and
// returns its symbols and ORC table in place (views of b, moved to the
// dump's KASLR offset on access). Only the metadata is decoded: the
// columns are read where lookups need them.
func decodeProfile(b []byte, slide kaslr) (profileMeta, *symbolTable, *orcTable, error) {
	var meta profileMeta
	if len(b) < len(profileMagic) || string(b[:len(profileMagic)]) != profileMagic {
		return meta, nil, nil, errors.New("analyzer: profile: bad magic")
	}
	r := &profileReader{b: b[len(profileMagic):]}
	if j := r.take(r.count(1, "metadata bytes"), "metadata"); r.err == nil {
		if err := json.Unmarshal(j, &meta); err != nil {
			return meta, nil, nil, fmt.Errorf("analyzer: profile: %w", err)
		}
		if meta.Types.Sizes == nil || meta.Types.Offsets == nil || meta.Types.Enums == nil || meta.Types.Missing == nil {
			r.fail("incomplete type tables")
		}
	}
	n := r.count(21, "symbols")
	t := &symbolTable{n: n, slide: slide}
	t.addrs, t.sizes, t.types, t.ends = r.take(8*n, "addresses"), r.take(4*n, "sizes"), r.take(n, "types"), r.take(4*n, "name ends")
	if n > 0 && r.err == nil {
		t.names = r.take(int(le.Uint32(t.ends[4*(n-1):])), "symbol names")
	}
	t.order = r.take(4*n, "name order")
	var orc *orcTable
	if m := r.count(orcRecordLen, "ORC entries"); m > 0 {
		if recs := r.take(orcRecordLen*m, "ORC entries"); r.err == nil {
			orc = newORCTable(recs, slide.offset)
		}
	}
	if r.err != nil {
		return meta, nil, nil, r.err
	}
	return meta, t, orc, nil
}

// loadProfile opens the kernel from a cached profile, if there is one for
// the dump's build; types reaches the real source for questions the
// profile cannot answer.
func loadProfile(m kmem, dir, source string, types func(k *Kernel) (Types, error)) (*Kernel, bool) {
	d := m.d
	if d.Info == nil || dir == "" {
		return nil, false
	}
	p, ok := profilePath(dir, d.Info.BuildID(), source, "profile")
	if !ok {
		return nil, false
	}
	mapped, err := elfdump.MapFile(p, maxProfile)
	if err != nil {
		return nil, false
	}
	meta, syms, orc, err := decodeProfile(mapped.Data, kaslrOf(d))
	if err != nil || meta.BuildID != d.Info.BuildID() || !sameProfile(meta.Source, source) {
		mapped.Close()
		return nil, false
	}
	// The tables are views of the mapping: it goes when neither is
	// reachable any more.
	syms.mapping = mapped
	if orc != nil {
		orc.mapping = mapped
	}
	mapped.CloseWhenUnreachable()
	k := &Kernel{Dump: d, Syms: syms, Source: meta.Source, mem: m, profileDir: dir, fromProfile: true, vmlinuxORC: orc, knownLines: map[uint64][]Location{}}
	for pc, locs := range meta.Lines {
		if v, err := strconv.ParseUint(pc, 16, 64); err == nil {
			k.knownLines[v] = locs
		}
	}
	k.rec = newRecordingTypes(meta.Types, func() (Types, error) { return types(k) })
	k.Types = k.rec
	return k, true
}

// SaveProfile writes the kernel build's profile to the cache when it has
// learnt something new (a first analysis, or a new type question). It is
// best effort: a read-only cache only costs the next run its cold start.
func (k *Kernel) SaveProfile() error {
	if k.rec == nil || k.Dump.Info == nil || k.profileDir == "" {
		return nil
	}
	k.rec.mu.Lock()
	dirty := k.rec.dirty || !k.fromProfile
	types := k.rec.p
	k.rec.mu.Unlock()
	var lines map[string][]Location
	if lt := k.lines; lt != nil {
		lt.mu.Lock()
		dirty = dirty || lt.learnt
		lines = make(map[string][]Location, len(lt.known))
		for pc, locs := range lt.known {
			lines[strconv.FormatUint(pc, 16)] = locs
		}
		lt.mu.Unlock()
	}
	if !dirty {
		return nil
	}
	var syms *symbolTable
	switch s := k.Syms.(type) {
	case *Kallsyms:
		syms = &s.symbolTable
	case *symbolTable:
		syms = s
	default:
		return nil
	}
	p, ok := profilePath(k.profileDir, k.Dump.Info.BuildID(), k.Source, "profile")
	if !ok {
		return nil
	}
	b, err := encodeProfile(profileMeta{BuildID: k.Dump.Info.BuildID(), Source: k.Source, Types: types, Lines: lines}, syms, k.vmlinuxORC, kaslrOf(k.Dump))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".profile-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	tmp.Close()
	return os.Rename(tmp.Name(), p) // atomic: concurrent workers never see half a profile
}

// A build whose kallsyms lists no data symbols is noted in the profile
// directory (an empty <build-id>.btf.nodata), so that its next dump is
// told so without decoding 100,000 symbols again to find it out.

func noDataSymbolsPath(dir string, d *vmcore.Dump) (string, bool) {
	if d.Info == nil || dir == "" {
		return "", false
	}
	return profilePath(dir, d.Info.BuildID(), SourceBTF, "nodata")
}

func knownNoDataSymbols(dir string, d *vmcore.Dump) bool {
	p, ok := noDataSymbolsPath(dir, d)
	if !ok {
		return false
	}
	_, err := os.Stat(p)
	return err == nil
}

// noteNoDataSymbols is best effort, as SaveProfile is.
func noteNoDataSymbols(dir string, d *vmcore.Dump) {
	if p, ok := noDataSymbolsPath(dir, d); ok && os.MkdirAll(filepath.Dir(p), 0o755) == nil {
		os.WriteFile(p, nil, 0o600)
	}
}

func orcLen(t *orcTable) int {
	if t == nil {
		return 0
	}
	return t.len()
}
