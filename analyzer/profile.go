package analyzer

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"

	"github.com/vmcore/vmcore/vmcore"
)

// A profile is what the analyses need from one kernel build's debuginfo,
// distilled on first use: every symbol (at its link-time address, so any
// dump of the build can use it whatever its KASLR offset) and the answer
// to every type question asked (sizes, member offsets, enumerators). The
// next dump of the same build starts from the profile in milliseconds
// instead of decoding kallsyms and parsing BTF or DWARF again.

const profileMagic = "VMCPROF1"

// maxProfile bounds a profile file read back from the cache.
const maxProfile = 256 << 20

// profileTypes holds the recorded type answers.
type profileTypes struct {
	Sizes   map[string]uint64 `json:"sizes"`
	Offsets map[string]uint64 `json:"offsets"`
	Enums   map[string]int64  `json:"enums"`
	Missing map[string]bool   `json:"missing"` // questions the source could not answer
}

type profileMeta struct {
	BuildID string       `json:"build_id"`
	Source  string       `json:"source"`
	Types   profileTypes `json:"types"`
}

// ProfileDir is where profiles are cached: $VMCORE_CACHE/profiles, else the
// user cache directory's vmcore/profiles.
func ProfileDir() string {
	if d := os.Getenv("VMCORE_CACHE"); d != "" {
		return filepath.Join(d, "profiles")
	}
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "vmcore", "profiles")
}

var buildIDPattern = regexp.MustCompile(`^[0-9a-f]{8,128}$`)

func profilePath(dir, buildID, source string) (string, bool) {
	if !buildIDPattern.MatchString(buildID) {
		return "", false
	}
	return filepath.Join(dir, buildID+"."+map[string]string{SourceBTF: "btf", SourceDWARF: "dwarf"}[source]+".profile"), true
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

// linkSymbols returns the symbols at link-time addresses.
func linkSymbols(syms []Symbol, kaslr uint64) []Symbol {
	out := make([]Symbol, len(syms))
	for i, s := range syms {
		if s.Addr >= kernelMapStart {
			s.Addr -= kaslr
		}
		out[i] = s
	}
	return out
}

// encodeProfile writes magic, the JSON metadata, then the symbols as
// records {addr u64, size u32, type u8, len u16, name}.
func encodeProfile(meta profileMeta, syms []Symbol, orc *orcTable, kaslr uint64) ([]byte, error) {
	j, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(len(j) + 32*len(syms) + 16*orcLen(orc))
	b.WriteString(profileMagic)
	binary.Write(&b, binary.LittleEndian, uint32(len(j)))
	b.Write(j)
	binary.Write(&b, binary.LittleEndian, uint32(len(syms)))
	rec := make([]byte, 15)
	for _, s := range syms {
		name := s.Name[:min(len(s.Name), 0xffff)]
		binary.LittleEndian.PutUint64(rec[0:], s.Addr)
		binary.LittleEndian.PutUint32(rec[8:], uint32(min(s.Size, 0xffffffff)))
		rec[12] = s.Type
		binary.LittleEndian.PutUint16(rec[13:], uint16(len(name)))
		b.Write(rec)
		b.WriteString(name)
	}
	// Symbol indexes in name order, for lookups without building a map.
	order := sortedNames(syms)
	idx := make([]byte, 0, 4*len(order))
	for _, i := range order {
		idx = binary.LittleEndian.AppendUint32(idx, uint32(i))
	}
	b.Write(idx)
	// The vmlinux ORC table, at link-time addresses: {ip u64, sp_offset
	// i16, bp_offset i16, sp_reg, bp_reg, type, signal u8}.
	n := 0
	if orc != nil {
		n = len(orc.ips)
	}
	binary.Write(&b, binary.LittleEndian, uint32(n))
	ent := make([]byte, 16)
	for i := 0; i < n; i++ {
		e := orc.entries[i]
		binary.LittleEndian.PutUint64(ent[0:], orc.ips[i]-kaslr)
		binary.LittleEndian.PutUint16(ent[8:], uint16(e.spOffset))
		binary.LittleEndian.PutUint16(ent[10:], uint16(e.bpOffset))
		ent[12], ent[13], ent[14] = e.spReg, e.bpReg, byte(e.typ)
		ent[15] = map[bool]byte{true: 1}[e.signal]
		b.Write(ent)
	}
	return b.Bytes(), nil
}

// decodeProfile parses a profile file, validating every length.
func decodeProfile(b []byte, kaslr uint64) (profileMeta, *Kallsyms, *orcTable, error) {
	var meta profileMeta
	var orc *orcTable
	var nameOrder []int32
	bad := func(what string) error { return fmt.Errorf("analyzer: profile: %s", what) }
	if len(b) < len(profileMagic)+8 || string(b[:len(profileMagic)]) != profileMagic {
		return meta, nil, nil, bad("bad magic")
	}
	b = b[len(profileMagic):]
	n := int(binary.LittleEndian.Uint32(b))
	b = b[4:]
	if n > len(b) {
		return meta, nil, nil, bad("metadata runs past the end")
	}
	if err := json.Unmarshal(b[:n], &meta); err != nil {
		return meta, nil, nil, bad(err.Error())
	}
	b = b[n:]
	if len(b) < 4 {
		return meta, nil, nil, bad("no symbol count")
	}
	count := int(binary.LittleEndian.Uint32(b))
	b = b[4:]
	if count > len(b)/15 {
		return meta, nil, nil, bad("symbol count exceeds the file")
	}
	syms := make([]Symbol, count)
	str := string(b) // one allocation; names are substrings of it
	pos := 0
	for i := range syms {
		if len(b)-pos < 15 {
			return meta, nil, nil, bad("truncated symbol")
		}
		r := b[pos:]
		l := int(binary.LittleEndian.Uint16(r[13:]))
		if len(r) < 15+l {
			return meta, nil, nil, bad("truncated symbol name")
		}
		syms[i] = Symbol{Addr: binary.LittleEndian.Uint64(r), Size: uint64(binary.LittleEndian.Uint32(r[8:])), Type: r[12], Name: str[pos+15 : pos+15+l]}
		pos += 15 + l
	}
	b = b[pos:]
	if len(b) < 4*count {
		return meta, nil, nil, bad("truncated name index")
	}
	order := make([]int32, count)
	for i := range order {
		v := binary.LittleEndian.Uint32(b[4*i:])
		if int(v) >= count {
			return meta, nil, nil, bad("name index out of range")
		}
		order[i] = int32(v)
	}
	b = b[4*count:]
	nameOrder = order
	if meta.Types.Sizes == nil || meta.Types.Offsets == nil || meta.Types.Enums == nil || meta.Types.Missing == nil {
		return meta, nil, nil, bad("incomplete type tables")
	}
	if len(b) < 4 {
		return meta, nil, nil, bad("no ORC count")
	}
	n = int(binary.LittleEndian.Uint32(b))
	b = b[4:]
	if n > len(b)/16 {
		return meta, nil, nil, bad("ORC count exceeds the file")
	}
	if n > 0 {
		orc = &orcTable{ips: make([]uint64, n), entries: make([]orcEntry, n)}
		for i := 0; i < n; i++ {
			e := b[16*i:]
			orc.ips[i] = binary.LittleEndian.Uint64(e) + kaslr
			orc.entries[i] = orcEntry{spOffset: int16(binary.LittleEndian.Uint16(e[8:])), bpOffset: int16(binary.LittleEndian.Uint16(e[10:])),
				spReg: e[12], bpReg: e[13], typ: orcType(e[14]), signal: e[15] != 0}
			if i > 0 && orc.ips[i] < orc.ips[i-1] {
				return meta, nil, nil, bad("ORC table not sorted")
			}
		}
		orc.lo, orc.hi = orc.ips[0], orc.ips[n-1]
	}
	return meta, &Kallsyms{syms: syms, nameOrder: nameOrder}, orc, nil
}

// rebase moves a profile's link-time addresses to the dump's KASLR offset.
// The order is unchanged: the slide is the same for every relocated
// symbol, and per-CPU symbols sort below all of them either way.
func (ks *Kallsyms) rebase(kaslr uint64) {
	for i := range ks.syms {
		if ks.syms[i].Addr >= kernelMapStart {
			ks.syms[i].Addr += kaslr
		}
	}
}

// loadProfile opens the kernel from a cached profile, if there is one for
// the dump's build.
func loadProfile(d *vmcore.Dump, source string) (*Kernel, bool) {
	if d.Info == nil {
		return nil, false
	}
	p, ok := profilePath(ProfileDir(), d.Info.BuildID(), source)
	if !ok {
		return nil, false
	}
	st, err := os.Stat(p)
	if err != nil || st.Size() > maxProfile {
		return nil, false
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, false
	}
	meta, syms, orc, err := decodeProfile(b, d.Info.KernelOffset())
	if err != nil || meta.BuildID != d.Info.BuildID() || meta.Source != source {
		return nil, false
	}
	syms.rebase(d.Info.KernelOffset())
	k := &Kernel{Dump: d, Syms: syms, Source: source, mem: kmem{d, d.ByteOrder}, fromProfile: true, vmlinuxORC: orc}
	k.rec = newRecordingTypes(meta.Types, func() (Types, error) { return loadBTFTypes(d, k.Syms) })
	k.Types = k.rec
	return k, true
}

// SaveProfile writes the kernel build's profile to the cache when it has
// learnt something new (a first analysis, or a new type question). It is
// best effort: a read-only cache only costs the next run its cold start.
func (k *Kernel) SaveProfile() error {
	if k.rec == nil || k.Dump.Info == nil {
		return nil
	}
	k.rec.mu.Lock()
	dirty := k.rec.dirty || !k.fromProfile
	types := k.rec.p
	k.rec.mu.Unlock()
	if !dirty {
		return nil
	}
	var syms []Symbol
	switch s := k.Syms.(type) {
	case *Kallsyms:
		syms = s.syms
	case *elfSymbols:
		syms = s.syms
	default:
		return nil
	}
	p, ok := profilePath(ProfileDir(), k.Dump.Info.BuildID(), k.Source)
	if !ok {
		return nil
	}
	b, err := encodeProfile(profileMeta{BuildID: k.Dump.Info.BuildID(), Source: k.Source, Types: types}, linkSymbols(syms, k.Dump.Info.KernelOffset()), k.vmlinuxORC, k.Dump.Info.KernelOffset())
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

func orcLen(t *orcTable) int {
	if t == nil {
		return 0
	}
	return len(t.ips)
}
