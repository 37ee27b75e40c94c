// Command k8s-schema writes src/core/k8s_schema.inc: the protobuf and JSON
// layout of every Kubernetes type the API server stores, for the C decoder
// (src/core/k8spb.c).  It walks the Go types by reflection: for each kind of
// each group/version in groups.go, the fields in Go declaration order (the
// JSON order) with their protobuf field number and wire type, their Go shape
// (pointer, slice, map, struct) and json options (omitempty, omitzero,
// inline).  Types whose JSON or wire form is not what their tags say get
// hand-written rules (specials below), each checked against the v0.37.2
// sources named there.
//
//	go run . > ../../core/k8s_schema.inc     (make schema)
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
)

// value kinds (K_*), shapes (C_*), flags (F_*) and specials (S_*): the
// names the C side defines in k8spb.h.
const (
	kString = "K_STRING"
	kBytes  = "K_BYTES"
	kBool   = "K_BOOL"
	kInt32  = "K_INT32"
	kInt64  = "K_INT64"
	kUint64 = "K_UINT64"
	kFloat  = "K_FLOAT64"
	kMsg    = "K_MSG"
	kTMeta  = "K_TYPEMETA"
)

type field struct {
	name  string // JSON name; "" for an inlined struct
	num   int    // protobuf field number; 0: not on the wire (TypeMeta)
	kind  string
	shape string // C_ONE, C_PTR, C_SLICE, C_MAP
	flags []string
	typ   int // K_MSG: index into types
}

type typ struct {
	name    string
	special string
	fields  []field
}

var (
	types  []*typ
	byType = map[reflect.Type]int{}
)

// special types, by package path and name.  Their fields are written here,
// not read from tags, when the tags do not describe the wire.
type special struct {
	name   string
	fields []field // nil: read the struct's tags
}

var specials = map[string]special{
	// metav1.Time and MicroTime are tagged protobuf:"-": time_proto.go and
	// micro_time_proto.go marshal them as Timestamp{seconds=1, nanos=2}
	// (generated.pb.go writes both fields, always); a zero time is an empty
	// message.  JSON (time.go, micro_time.go): null when zero, RFC 3339 UTC,
	// Time at seconds, MicroTime with 6 decimals.
	"k8s.io/apimachinery/pkg/apis/meta/v1.Time": {"S_TIME", []field{
		{name: "seconds", num: 1, kind: kInt64, shape: "C_ONE"},
		{name: "nanos", num: 2, kind: kInt32, shape: "C_ONE"}}},
	"k8s.io/apimachinery/pkg/apis/meta/v1.MicroTime": {"S_MICROTIME", []field{
		{name: "seconds", num: 1, kind: kInt64, shape: "C_ONE"},
		{name: "nanos", num: 2, kind: kInt32, shape: "C_ONE"}}},
	// resource.Quantity: unexported fields; quantity_proto.go writes
	// {string=1} (always), MarshalJSON the string.
	"k8s.io/apimachinery/pkg/api/resource.Quantity": {"S_QUANTITY", []field{
		{name: "string", num: 1, kind: kString, shape: "C_ONE"}}},
	// intstr.IntOrString: tags are right for the wire ({type=1, intVal=2,
	// strVal=3}); JSON is intVal or strVal by type.
	"k8s.io/apimachinery/pkg/util/intstr.IntOrString": {"S_INTORSTR", nil},
	// metav1.Duration: {duration=1}; JSON time.Duration.String().
	"k8s.io/apimachinery/pkg/apis/meta/v1.Duration": {"S_DURATION", nil},
	// runtime.RawExtension {raw=1}, metav1.FieldsV1 {Raw=1}, apiextensions
	// JSON {raw=1}: the JSON bytes themselves, compacted by encoding/json;
	// null when empty (RawExtension: when nil).
	"k8s.io/apimachinery/pkg/runtime.RawExtension": {"S_RAWJSON", []field{
		{name: "raw", num: 1, kind: kBytes, shape: "C_ONE"}}},
	"k8s.io/apimachinery/pkg/apis/meta/v1.FieldsV1": {"S_RAWJSON", []field{
		{name: "Raw", num: 1, kind: kBytes, shape: "C_ONE"}}},
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1.JSON": {"S_RAWJSON", []field{
		{name: "raw", num: 1, kind: kBytes, shape: "C_ONE"}}},
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1beta1.JSON": {"S_RAWJSON", []field{
		{name: "raw", num: 1, kind: kBytes, shape: "C_ONE"}}},
	// apiextensions marshal.go: OrArray is the array when it has items,
	// else the schema (or null); OrBool the schema when set, else the bool;
	// OrStringArray the strings when any, else the schema, else null.
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1.JSONSchemaPropsOrArray":            {"S_PROPS_OR_ARRAY", nil},
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1beta1.JSONSchemaPropsOrArray":       {"S_PROPS_OR_ARRAY", nil},
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1.JSONSchemaPropsOrBool":             {"S_PROPS_OR_BOOL", nil},
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1beta1.JSONSchemaPropsOrBool":        {"S_PROPS_OR_BOOL", nil},
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1.JSONSchemaPropsOrStringArray":      {"S_PROPS_OR_STRARRAY", nil},
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1beta1.JSONSchemaPropsOrStringArray": {"S_PROPS_OR_STRARRAY", nil},
}

var typeMetaName = "k8s.io/apimachinery/pkg/apis/meta/v1.TypeMeta"

func fullName(t reflect.Type) string { return t.PkgPath() + "." + t.Name() }

// shortName: "core/v1.PodSpec", "meta/v1.ObjectMeta", for the comments
// and the error messages of the C side.
func shortName(t reflect.Type) string {
	p := t.PkgPath()
	for _, pre := range []string{"k8s.io/api/", "k8s.io/apimachinery/pkg/apis/", "k8s.io/apimachinery/pkg/",
		"k8s.io/apiextensions-apiserver/pkg/apis/", "k8s.io/kube-aggregator/pkg/apis/"} {
		if strings.HasPrefix(p, pre) {
			p = p[len(pre):]
			break
		}
	}
	return p + "." + t.Name()
}

var marshalerType = reflect.TypeOf((*json.Marshaler)(nil)).Elem()

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "k8s-schema: "+format+"\n", a...)
	os.Exit(1)
}

// isWrapper: a named slice type with its own protobuf Marshal (the
// +protobuf.nullable wrappers, authentication's ExtraValue): on the wire a
// message {items=1 repeated}, in JSON the slice (null when empty).
func isWrapper(t reflect.Type) bool {
	if t.Kind() != reflect.Slice || t.Name() == "" {
		return false
	}
	_, ok := reflect.PointerTo(t).MethodByName("Marshal")
	return ok
}

// typeIndex returns the index of struct (or wrapper) type t, adding it
// (and, depth first, the types of its fields) when new.
func typeIndex(t reflect.Type) int {
	if i, ok := byType[t]; ok {
		return i
	}
	tt := &typ{name: shortName(t)}
	i := len(types)
	types = append(types, tt)
	byType[t] = i
	if isWrapper(t) {
		tt.special = "S_WRAPPER"
		k := scalarKind(t.Elem(), "bytes", t.String())
		tt.fields = []field{{name: "items", num: 1, kind: k, shape: "C_SLICE"}}
		return i
	}
	if t.Kind() != reflect.Struct {
		fail("%s: not a struct", t)
	}
	sp, isSpecial := specials[fullName(t)]
	if isSpecial {
		tt.special = sp.name
		if sp.fields != nil {
			tt.fields = sp.fields
			return i
		}
	} else if t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType) {
		fail("%s has its own MarshalJSON and no rule here", fullName(t))
	}
	tt.special = "S_NONE"
	if isSpecial {
		tt.special = sp.name
	}
	fields := []field{}
	for j := 0; j < t.NumField(); j++ {
		f := t.Field(j)
		if !f.IsExported() {
			continue
		}
		jtag := f.Tag.Get("json")
		if jtag == "-" {
			continue
		}
		jname, jopts, _ := strings.Cut(jtag, ",")
		ptag, hasProto := f.Tag.Lookup("protobuf")
		var flags []string
		for _, o := range strings.Split(jopts, ",") {
			switch o {
			case "omitempty":
				flags = append(flags, "F_OMITEMPTY")
			case "omitzero":
				flags = append(flags, "F_OMITZERO")
			case "", "inline":
			default:
				fail("%s.%s: json option %q", t, f.Name, o)
			}
		}
		inline := f.Anonymous && jname == ""
		if inline && fullName(f.Type) == typeMetaName {
			fields = append(fields, field{kind: kTMeta, shape: "C_ONE"})
			continue
		}
		if !hasProto || ptag == "-" {
			fail("%s.%s: no protobuf tag", t, f.Name)
		}
		if jname == "" && !inline {
			jname = f.Name
		}
		fd := parseField(t, f, ptag)
		fd.name = jname
		if inline {
			if fd.kind != kMsg || fd.shape != "C_ONE" {
				fail("%s.%s: inline field is not a struct", t, f.Name)
			}
			flags = append(flags, "F_INLINE")
		}
		fd.flags = flags
		fields = append(fields, fd)
	}
	tt.fields = fields
	return i
}

// parseField reads one field's protobuf tag ("bytes,1,opt,name=x,...")
// and Go type.
func parseField(t reflect.Type, f reflect.StructField, ptag string) field {
	parts := strings.Split(ptag, ",")
	if len(parts) < 3 {
		fail("%s.%s: protobuf tag %q", t, f.Name, ptag)
	}
	wire := parts[0]
	num, err := strconv.Atoi(parts[1])
	if err != nil || num <= 0 {
		fail("%s.%s: protobuf tag %q", t, f.Name, ptag)
	}
	where := t.String() + "." + f.Name
	ft := f.Type
	fd := field{num: num, shape: "C_ONE"}
	switch {
	case ft.Kind() == reflect.Pointer:
		fd.shape = "C_PTR"
		ft = ft.Elem()
	case ft.Kind() == reflect.Map:
		fd.shape = "C_MAP"
		if ft.Key().Kind() != reflect.String {
			fail("%s: map key %s", where, ft.Key())
		}
		ft = ft.Elem()
		wire = "bytes"
		if ft.Kind() == reflect.Slice && !isWrapper(ft) && ft.Elem().Kind() != reflect.Uint8 {
			fail("%s: map of slices", where)
		}
		if ft.Kind() == reflect.Struct || isWrapper(ft) {
			fd.kind, fd.typ = kMsg, typeIndex(ft)
			return fd
		}
		// map values' wire type: from protobuf_val
		pv := strings.Split(f.Tag.Get("protobuf_val"), ",")
		wire = pv[0]
	case ft.Kind() == reflect.Slice && ft.Elem().Kind() != reflect.Uint8 && !isWrapper(ft):
		fd.shape = "C_SLICE"
		ft = ft.Elem()
		if ft.Kind() == reflect.Pointer {
			fail("%s: slice of pointers", where)
		}
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() != reflect.Uint8 && !isWrapper(ft) {
			fail("%s: slice of slices", where)
		}
	}
	// (a "rep" tag on a pointer, as admissionregistration's ParamKind,
	// is written once, as its Go type says)
	if ft.Kind() == reflect.Struct || isWrapper(ft) {
		fd.kind, fd.typ = kMsg, typeIndex(ft)
		return fd
	}
	fd.kind = scalarKind(ft, wire, where)
	return fd
}

func scalarKind(ft reflect.Type, wire, where string) string {
	want := map[reflect.Kind][2]string{
		reflect.String:  {"bytes", kString},
		reflect.Bool:    {"varint", kBool},
		reflect.Int32:   {"varint", kInt32},
		reflect.Int64:   {"varint", kInt64},
		reflect.Int:     {"varint", kInt64},
		reflect.Uint64:  {"varint", kUint64},
		reflect.Float64: {"fixed64", kFloat},
	}
	if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Uint8 {
		return kBytes
	}
	// The wire type follows the Go kind, as generated.pb.go writes it: a
	// tag can say otherwise (ListMeta.RemainingItemCount *int64 is tagged
	// "bytes" and written as a varint).
	w, ok := want[ft.Kind()]
	if !ok {
		fail("%s: Go kind %s (tag wire %s)", where, ft.Kind(), wire)
	}
	return w[1]
}

type kind struct {
	apiVersion, kind string
	typ              int
}

func main() {
	scheme := runtime.NewScheme()
	for _, add := range addToScheme {
		if err := add(scheme); err != nil {
			fail("%v", err)
		}
	}
	all := scheme.AllKnownTypes()
	type gvkT struct {
		av, kind string
		t        reflect.Type
	}
	var gvks []gvkT
	for gvk, t := range all {
		if gvk.Version == runtime.APIVersionInternal {
			continue
		}
		gvks = append(gvks, gvkT{gvk.GroupVersion().String(), gvk.Kind, t})
	}
	sort.Slice(gvks, func(i, j int) bool {
		if gvks[i].av != gvks[j].av {
			return gvks[i].av < gvks[j].av
		}
		return gvks[i].kind < gvks[j].kind
	})
	var kinds []kind
	for _, g := range gvks {
		t := g.t
		if t.Kind() != reflect.Struct {
			continue
		}
		// options and watch events registered in every group (meta/v1
		// types without a protobuf layout of their own) are kept too: they
		// have tags.
		kinds = append(kinds, kind{g.av, g.kind, typeIndex(t)})
	}
	write(kinds)
}

func cstr(s string) string { return strconv.Quote(s) }

// names is the string pool the tables point into by offset: every name once,
// NUL-terminated, offset 0 the empty string (a field without a name).
// Offsets, not pointers: a table of pointers in a position-independent
// executable is rewritten by the dynamic loader at every start (thousands
// of relocations, every page of the tables copied); offsets are plain
// read-only data, not read until a value is decoded.
type names struct {
	off  map[string]int
	list []string
	size int
}

func (p *names) add(s string) int {
	if s == "" {
		return 0
	}
	if o, ok := p.off[s]; ok {
		return o
	}
	o := p.size
	p.off[s] = o
	p.list = append(p.list, s)
	p.size += len(s) + 1
	return o
}

func write(kinds []kind) {
	w := os.Stdout
	pool := &names{off: map[string]int{"": 0}, list: []string{""}, size: 1}
	for _, t := range types {
		for _, f := range t.fields {
			pool.add(f.name)
		}
	}
	for _, t := range types {
		pool.add(t.name)
	}
	for _, k := range kinds {
		pool.add(k.apiVersion)
		pool.add(k.kind)
	}
	fmt.Fprintf(w, "/* k8s_schema.inc: generated by src/gen/k8s-schema (make schema) from\n"+
		" * k8s.io/api, apimachinery, apiextensions-apiserver and kube-aggregator\n"+
		" * v0.37.2.  Do not edit: included by k8spb.c. */\n\n")
	// The tables go into a section of their own, which the linker puts
	// after .rodata: 230 KB a start never reads stay out of the pages of
	// the constants every run does read.
	fmt.Fprintf(w, "#define SCHEMA __attribute__((section(\"ksh_schema\")))\n\n")
	// the names, each once; the tables below hold offsets into them
	fmt.Fprintf(w, "SCHEMA static const char k8s_names[] =\n")
	off := 0
	for i, s := range pool.list {
		end := ""
		if i == len(pool.list)-1 {
			end = ";"
		}
		q := cstr(s)
		fmt.Fprintf(w, "  %s\\0\"%s /* %d */\n", q[:len(q)-1], end, off)
		off += len(s) + 1
	}
	fmt.Fprintf(w, "\n")
	// fields, in JSON (declaration) order per type
	fmt.Fprintf(w, "SCHEMA static const k8s_field k8s_fields[] = {\n")
	first := make([]int, len(types))
	n := 0
	for i, t := range types {
		first[i] = n
		fmt.Fprintf(w, "  /* %d %s */\n", i, t.name)
		for _, f := range t.fields {
			fl := "0"
			if len(f.flags) > 0 {
				fl = strings.Join(f.flags, "|")
			}
			name := "no name"
			if f.name != "" {
				name = f.name
			}
			fmt.Fprintf(w, "  {%d, %d, %s, %s, %s, %d}, /* %s */\n", pool.add(f.name), f.num, f.kind, f.shape, fl, f.typ, name)
			n++
		}
	}
	fmt.Fprintf(w, "};\n\n")
	// per type: its fields' indexes in ascending field number (the wire order)
	fmt.Fprintf(w, "SCHEMA static const uint16_t k8s_wire[] = {\n")
	for i, t := range types {
		idx := make([]int, len(t.fields))
		for j := range idx {
			idx[j] = j
		}
		sort.SliceStable(idx, func(a, b int) bool { return t.fields[idx[a]].num < t.fields[idx[b]].num })
		var s []string
		for _, j := range idx {
			s = append(s, strconv.Itoa(j))
		}
		if len(s) == 0 {
			fmt.Fprintf(w, "  /* %d: no fields */\n", i)
			continue
		}
		fmt.Fprintf(w, "  /* %d */ %s,\n", i, strings.Join(s, ", "))
	}
	fmt.Fprintf(w, "};\n\n")
	fmt.Fprintf(w, "SCHEMA static const k8s_type k8s_types[] = {\n")
	for i, t := range types {
		fmt.Fprintf(w, "  {%d, %s, %d, %d}, /* %s */\n", pool.add(t.name), t.special, first[i], len(t.fields), t.name)
	}
	fmt.Fprintf(w, "};\n\n")
	fmt.Fprintf(w, "/* (apiVersion, kind) -> type, sorted by apiVersion then kind */\n")
	fmt.Fprintf(w, "SCHEMA static const k8s_kind k8s_kinds[] = {\n")
	for _, k := range kinds {
		fmt.Fprintf(w, "  {%d, %d, %d}, /* %s %s */\n", pool.add(k.apiVersion), pool.add(k.kind), k.typ, k.apiVersion, k.kind)
	}
	fmt.Fprintf(w, "};\n")
}
