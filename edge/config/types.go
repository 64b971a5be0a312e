package config

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// Duration is a length of time in a distribution file: either a Go duration
// string ("90s", "5m", "1h30m") or a whole number of seconds (86400), as
// CloudFront writes TTLs. Where it is used says whether it may be 0; it may
// never be negative.
type Duration struct {
	time.Duration
}

// Seconds makes a Duration of n seconds.
func Seconds(n int64) *Duration {
	return &Duration{time.Duration(n) * time.Second}
}

// UnmarshalYAML reads a duration string or a number of seconds.
func (d *Duration) UnmarshalYAML(ctx context.Context, node ast.Node) error {
	node = unwrap(node)
	var err error
	switch n := node.(type) {
	case *ast.IntegerNode:
		var secs int64
		switch v := n.Value.(type) {
		case int64:
			secs = v
		case uint64:
			secs = int64(min(v, 1<<62))
		}
		if secs > int64(time.Duration(1<<63-1)/time.Second) {
			err = fmt.Errorf("duration %d seconds is too long", secs)
			break
		}
		d.Duration = time.Duration(secs) * time.Second
	case *ast.StringNode:
		d.Duration, err = time.ParseDuration(n.Value)
		if err != nil {
			err = fmt.Errorf("invalid duration %q: want a number of seconds or a duration such as \"90s\" or \"1h\"", n.Value)
		}
	default:
		err = fmt.Errorf("invalid duration %s: want a number of seconds or a duration such as \"90s\" or \"1h\"", node.String())
	}
	return report(ctx, node, err)
}

// MarshalYAML writes whole seconds as a number and anything else as a
// duration string.
func (d Duration) MarshalYAML() (any, error) {
	if d.Duration%time.Second == 0 {
		return int64(d.Duration / time.Second), nil
	}
	return d.Duration.String(), nil
}

// KeyList chooses names (of query string parameters, headers or cookies)
// from a request. In YAML it is one of:
//
//	none                  # no names (the default)
//	all                   # every name
//	{allow: [a, b]}       # only these names
//	{deny: [a, b]}        # every name but these (CloudFront's allExcept)
type KeyList struct {
	// Mode is "none" or "all" when the list is written as that word, and
	// empty when Allow or Deny is used.
	Mode string `yaml:"-"`
	// Allow is the list of names chosen.
	Allow []string `yaml:"allow,omitempty"`
	// Deny is the list of names left out; all others are chosen.
	Deny []string `yaml:"deny,omitempty"`
}

// Key list modes.
const (
	KeyListNone = "none"
	KeyListAll  = "all"
)

var errKeyList = errors.New("want none, all, {allow: [names]} or {deny: [names]}")

// UnmarshalYAML reads any of KeyList's forms.
func (k *KeyList) UnmarshalYAML(ctx context.Context, node ast.Node) error {
	node = unwrap(node)
	*k = KeyList{}
	switch n := node.(type) {
	case *ast.NullNode:
		k.Mode = KeyListNone
		return nil
	case *ast.StringNode:
		switch n.Value {
		case KeyListNone, KeyListAll:
			k.Mode = n.Value
			return nil
		}
		return report(ctx, node, fmt.Errorf("invalid value %q: %w", n.Value, errKeyList))
	case ast.MapNode:
		it := n.MapRange()
		for it.Next() {
			var dst *[]string
			switch it.Key().GetToken().Value {
			case "allow":
				dst = &k.Allow
			case "deny":
				dst = &k.Deny
			default:
				continue // reported as an unknown field
			}
			names, err := stringList(it.Value())
			if err != nil {
				return report(ctx, it.Value(), err)
			}
			*dst = names
		}
		if k.Allow != nil && k.Deny != nil {
			return report(ctx, node, fmt.Errorf("both allow and deny: %w", errKeyList))
		}
		if k.Allow == nil && k.Deny == nil {
			return report(ctx, node, errKeyList)
		}
		return nil
	}
	return report(ctx, node, fmt.Errorf("invalid value %s: %w", node.String(), errKeyList))
}

// MarshalYAML writes the list in its shortest form.
func (k KeyList) MarshalYAML() (any, error) {
	switch {
	case k.Allow != nil:
		return map[string][]string{"allow": k.Allow}, nil
	case k.Deny != nil:
		return map[string][]string{"deny": k.Deny}, nil
	case k.Mode == "":
		return KeyListNone, nil
	}
	return k.Mode, nil
}

func stringList(node ast.Node) ([]string, error) {
	node = unwrap(node)
	if _, ok := node.(*ast.NullNode); ok {
		return []string{}, nil
	}
	seq, ok := node.(*ast.SequenceNode)
	if !ok {
		return nil, fmt.Errorf("want a list of names, not %s", node.String())
	}
	names := make([]string, 0, len(seq.Values))
	for _, v := range seq.Values {
		v = unwrap(v)
		var s string
		switch v := v.(type) {
		case *ast.StringNode:
			s = v.Value
		case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode:
			s = v.GetToken().Value
		default:
			return nil, fmt.Errorf("want a name, not %s", v.String())
		}
		if strings.TrimSpace(s) == "" {
			return nil, errors.New("empty name in list")
		}
		names = append(names, s)
	}
	return names, nil
}

// unwrap returns the value under anchors and tags.
func unwrap(node ast.Node) ast.Node {
	for {
		switch n := node.(type) {
		case *ast.AnchorNode:
			node = n.Value
		case *ast.TagNode:
			node = n.Value
		default:
			return node
		}
	}
}

type collectorKey struct{}

// collector gathers problems found while decoding, so decoding can go on
// after a bad value and every problem be reported.
type collector struct {
	file string
	errs []Error
}

// report records err against node in ctx's collector and returns nil, so
// decoding goes on; without a collector it returns err.
func report(ctx context.Context, node ast.Node, err error) error {
	if err == nil {
		return nil
	}
	c, ok := ctx.Value(collectorKey{}).(*collector)
	if !ok {
		return err
	}
	c.errs = append(c.errs, Error{Pos: nodePos(c.file, node), Msg: err.Error()})
	return nil
}

func nodePos(file string, node ast.Node) Pos {
	if node == nil {
		return Pos{File: file}
	}
	tk := node.GetToken()
	if tk == nil || tk.Position == nil {
		return Pos{File: file}
	}
	return Pos{File: file, Line: tk.Position.Line, Col: tk.Position.Column}
}
