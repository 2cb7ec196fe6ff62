package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// fileConfig is nhi.yaml. Each source family and later feature reads its
// own section; unknown top-level keys are an error so typos do not pass
// silently.
type fileConfig struct {
	path     string
	dir      string
	raw      []byte
	cacheDir string
	disable  []string
	sections map[string]*yaml.Node
}

// knownSections are the top-level keys of nhi.yaml.
var knownSections = map[string]bool{
	"db": true, "cache_dir": true, "detection": true,
	"git": true, "ci": true, "aws": true, "vault": true,
	"owners": true, "controls": true, "notify": true,
}

// loadConfig reads path, or ./nhi.yaml when path is empty and it exists.
func loadConfig(path string) (*fileConfig, error) {
	explicit := path != ""
	if !explicit {
		path = "nhi.yaml"
	}
	cfg := &fileConfig{sections: map[string]*yaml.Node{}}
	b, err := os.ReadFile(path)
	if err != nil {
		if !explicit && errors.Is(err, os.ErrNotExist) {
			cfg.dir, _ = os.Getwd()
			return cfg, nil
		}
		return nil, usageError("read config: %v", err)
	}
	abs, _ := filepath.Abs(path)
	cfg.path, cfg.dir, cfg.raw = abs, filepath.Dir(abs), b
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, usageError("config %s: %v", path, err)
	}
	if len(doc.Content) == 0 {
		return cfg, nil
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, usageError("config %s: line %d: expected a mapping of sections", path, top.Line)
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		if !knownSections[k.Value] {
			known := make([]string, 0, len(knownSections))
			for s := range knownSections {
				known = append(known, s)
			}
			sort.Strings(known)
			return nil, usageError("config %s: line %d: unknown section %q (known: %s)", path, k.Line, k.Value, strings.Join(known, ", "))
		}
		cfg.sections[k.Value] = v
	}
	if n := cfg.sections["cache_dir"]; n != nil {
		cfg.cacheDir = cfg.resolve(n.Value)
	}
	if n := cfg.sections["detection"]; n != nil {
		var d struct {
			DisableRules []string `yaml:"disable_rules"`
		}
		if err := decodeStrict(n, &d); err != nil {
			return nil, usageError("config %s: detection: %v", path, err)
		}
		cfg.disable = d.DisableRules
	}
	return cfg, nil
}

// decodeStrict decodes a section, rejecting unknown fields.
func decodeStrict(n *yaml.Node, v any) error {
	if n == nil {
		return nil
	}
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}

// resolve makes a path from the config file relative to its directory.
func (c *fileConfig) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) || strings.Contains(p, "://") || strings.HasPrefix(p, "git@") {
		return p
	}
	if strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[2:])
		}
	}
	return filepath.Join(c.dir, p)
}

// digest identifies the effective configuration of a scan.
func (c *fileConfig) digest(extra ...string) string {
	h := sha256.New()
	h.Write(c.raw)
	for _, e := range extra {
		h.Write([]byte{0})
		h.Write([]byte(e))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// defaultCacheDir is where clones and built artefacts are kept.
func defaultCacheDir() string {
	if d := os.Getenv("NHI_CACHE_DIR"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "nhi")
	}
	return filepath.Join(os.TempDir(), "nhi-cache")
}
