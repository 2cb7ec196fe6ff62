package ci

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// classifier is a snapshot that can tell a pipeline file by its content
// when its name says nothing: a flat --ci directory of workflow files
// copied out of their .github/workflows.
type classifier interface {
	classify(p string) string
}

var topKey = regexp.MustCompile(`(?m)^["']?([A-Za-z_][A-Za-z0-9_-]*)["']?\s*:`)

// ClassifyContent tells which CI system a YAML file belongs to from its
// top-level keys, or "".
func ClassifyContent(data []byte) string {
	keys := map[string]bool{}
	for _, m := range topKey.FindAllSubmatch(data, -1) {
		keys[string(m[1])] = true
	}
	text := string(data)
	switch {
	case keys["jobs"] && (keys["on"] || keys["true"]):
		return GitHubActions
	case keys["version"] && (keys["workflows"] || keys["orbs"]) && keys["jobs"]:
		return CircleCI
	case keys["pipelines"] && (keys["image"] || strings.Contains(text, "- step:")):
		return Bitbucket
	case keys["trigger"] || keys["pool"] || (keys["steps"] && !keys["jobs"]) || strings.Contains(text, "- job:") || strings.Contains(text, "- stage:"):
		return AzurePipelines
	case keys["stages"] || strings.Contains(text, "\n  script:") || keys["include"] || keys["default"]:
		return GitLabCI
	}
	return ""
}

// classify reads a YAML file at the top of the directory whose name
// Classify does not know, and tells it by content.
func (d *dirSnapshot) classify(p string) string {
	if !d.sniff || strings.Contains(p, "/") || !includable(p) {
		return ""
	}
	full := filepath.Join(d.root, p)
	st, err := os.Stat(full)
	if err != nil || st.Size() > maxFileSize {
		return ""
	}
	b, err := os.ReadFile(full)
	if err != nil {
		return ""
	}
	return ClassifyContent(b)
}
