package deploy

import (
	"bytes"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// mountOf is where container c mounts the volume of claim in pod.
func mountOf(pod corev1.PodSpec, c corev1.Container, claim string) string {
	for _, v := range pod.Volumes {
		if v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != claim {
			continue
		}
		for _, m := range c.VolumeMounts {
			if m.Name == v.Name {
				return m.MountPath
			}
		}
	}
	return ""
}

func checkHardened(t *testing.T, what string, pod corev1.PodSpec) {
	t.Helper()
	if pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("%s: restartPolicy %q", what, pod.RestartPolicy)
	}
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		t.Errorf("%s: not runAsNonRoot", what)
	}
	for _, c := range append(append([]corev1.Container{}, pod.InitContainers...), pod.Containers...) {
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s/%s: needs readOnlyRootFilesystem and no privilege escalation", what, c.Name)
		}
		for _, e := range c.Env {
			if strings.Contains(e.Value, "://") || (e.Value != "" && (strings.Contains(e.Name, "TOKEN") || strings.Contains(e.Name, "KEY"))) {
				t.Errorf("%s/%s: env %s is written in the manifest; it belongs in a Secret", what, c.Name, e.Name)
			}
		}
	}
}

// TestKubernetesIndexedJob: the shard Job is Indexed, each pod turns its
// JOB_COMPLETION_INDEX into a shard of as many as there are completions,
// writes its own database (with the shared key beside it) on a claim the
// merge Job reads every shard database from.
func TestKubernetesIndexedJob(t *testing.T) {
	docs := bytes.Split(read(t, "kubernetes/nhi-org-scan.yaml"), []byte("\n---\n"))
	if len(docs) != 3 {
		t.Fatalf("%d documents, want the claim, the shard Job and the merge CronJob", len(docs))
	}
	var pvc corev1.PersistentVolumeClaim
	var job batchv1.Job
	var merge batchv1.CronJob
	for i, v := range []any{&pvc, &job, &merge} {
		if err := yaml.UnmarshalStrict(docs[i], v); err != nil {
			t.Fatalf("document %d: %v", i+1, err)
		}
	}
	if pvc.Kind != "PersistentVolumeClaim" || job.Kind != "Job" || job.APIVersion != "batch/v1" || merge.Kind != "CronJob" {
		t.Fatalf("kinds %s %s %s", pvc.Kind, job.Kind, merge.Kind)
	}
	if len(pvc.Spec.AccessModes) != 1 || pvc.Spec.AccessModes[0] != corev1.ReadWriteMany {
		t.Errorf("the shards' claim must be ReadWriteMany (every shard pod and the merge mount it): %v", pvc.Spec.AccessModes)
	}
	if job.Spec.CompletionMode == nil || *job.Spec.CompletionMode != batchv1.IndexedCompletion {
		t.Fatal("the shard Job must have completionMode: Indexed")
	}
	if job.Spec.Completions == nil || job.Spec.Parallelism == nil {
		t.Fatal("completions and parallelism must be set")
	}
	pod := job.Spec.Template.Spec
	checkHardened(t, "shard Job", pod)
	if len(pod.Containers) != 1 || len(pod.InitContainers) != 1 {
		t.Fatalf("want one init container (the key) and one nhi container")
	}
	c := pod.Containers[0]
	args := strings.Join(c.Args, " ")
	m := regexp.MustCompile(`--shard-index \$\(JOB_COMPLETION_INDEX\)/(\d+)`).FindStringSubmatch(args)
	if m == nil {
		t.Fatalf("args %q: the shard must come from JOB_COMPLETION_INDEX (--shard-index $(JOB_COMPLETION_INDEX)/N)", args)
	}
	if n, _ := strconv.Atoi(m[1]); int32(n) != *job.Spec.Completions {
		t.Errorf("--shard-index .../%d but %d completions: shards would be missed or doubled", n, *job.Spec.Completions)
	}
	data := mountOf(pod, c, pvc.Name)
	db := regexp.MustCompile(`--db (\S+)`).FindStringSubmatch(args)
	if data == "" || db == nil || !strings.HasPrefix(db[1], data+"/") || !strings.Contains(db[1], "$(JOB_COMPLETION_INDEX)") {
		t.Fatalf("each shard's database must be its own file on the claim: args %q, claim at %q", args, data)
	}
	if !strings.Contains(args, "--github-org ") && !strings.Contains(args, "--gitlab-group ") {
		t.Errorf("args %q enumerate nothing", args)
	}
	tokenFromSecret := false
	for _, e := range c.Env {
		if e.Name == "GITHUB_TOKEN" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			tokenFromSecret = true
		}
	}
	if !tokenFromSecret {
		t.Error("GITHUB_TOKEN must come from a Secret")
	}
	// The key is written beside the shard's database, from a Secret.
	ic := pod.InitContainers[0]
	key := strings.ReplaceAll(db[1], "$(JOB_COMPLETION_INDEX)", "$JOB_COMPLETION_INDEX") + ".key"
	if !strings.Contains(strings.Join(ic.Command, " "), key) || mountOf(pod, ic, pvc.Name) != data {
		t.Errorf("the init container must write the shared key to %s: %v", key, ic.Command)
	}
	if len(ic.Env) != 1 || ic.Env[0].ValueFrom == nil || ic.Env[0].ValueFrom.SecretKeyRef == nil {
		t.Error("the fingerprint key must come from a Secret")
	}

	// The merge reads every shard database from the same claim.
	mp := merge.Spec.JobTemplate.Spec.Template.Spec
	checkHardened(t, "merge Job", mp)
	if len(mp.Containers) != 1 {
		t.Fatal("the merge Job has one nhi container")
	}
	mc := mp.Containers[0]
	margs := strings.Join(mc.Args, " ")
	mdata := mountOf(mp, mc, pvc.Name)
	glob := strings.ReplaceAll(strings.TrimPrefix(db[1], data), "$(JOB_COMPLETION_INDEX)", "*")
	if mdata == "" || !strings.HasPrefix(margs, "merge --into "+mdata+"/") || !strings.HasSuffix(margs, " "+mdata+glob) {
		t.Errorf("merge args %q: want merge --into %s/central.db %s%s (claim at %q)", margs, mdata, mdata, glob, mdata)
	}
	into := strings.Fields(margs)[2]
	if mk := strings.Join(mp.InitContainers[0].Command, " "); !strings.Contains(mk, into+".key") {
		t.Errorf("the merge's init container must write the shared key to %s.key: %s", into, mk)
	}
}

// TestGitHubActionsShardMatrix: actionlint-clean; the matrix has one job
// per shard of --shard K/N; every shard gets the shared key from a secret
// and never uploads it; the merge job runs after all of them, even when
// one failed, and merges every shard database.
func TestGitHubActionsShardMatrix(t *testing.T) {
	path := "github-actions/nhi-org-scan.yml"
	src := read(t, path)
	l, err := actionlint.NewLinter(os.Stderr, &actionlint.LinterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := l.Lint(path, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		t.Errorf("actionlint: %s", e.Error())
	}
	var wf struct {
		Jobs map[string]struct {
			Needs    any    `json:"needs"`
			If       string `json:"if"`
			Strategy struct {
				FailFast *bool `json:"fail-fast"`
				Matrix   struct {
					Shard []int `json:"shard"`
				} `json:"matrix"`
			} `json:"strategy"`
			Steps []struct {
				Uses string            `json:"uses"`
				Run  string            `json:"run"`
				With map[string]any    `json:"with"`
				Env  map[string]string `json:"env"`
			} `json:"steps"`
		} `json:"jobs"`
	}
	if err := yaml.Unmarshal(src, &wf); err != nil {
		t.Fatal(err)
	}
	scan, merge := wf.Jobs["scan"], wf.Jobs["merge"]
	shards := scan.Strategy.Matrix.Shard
	var run string
	keyed := false
	for _, s := range scan.Steps {
		run += s.Run
		if strings.Contains(s.Env["NHI_FINGERPRINT_KEY"], "secrets.") && strings.Contains(s.Run, ".db.key") {
			keyed = true
		}
		if strings.HasPrefix(s.Uses, "actions/upload-artifact") && strings.Contains(s.With["path"].(string), ".key") {
			t.Error("the key must never be uploaded with a shard")
		}
	}
	m := regexp.MustCompile(`--shard "\$\{\{ matrix\.shard \}\}/(\d+)"`).FindStringSubmatch(run)
	if m == nil {
		t.Fatal("the scan job must run nhi scan --shard \"${{ matrix.shard }}/N\"")
	}
	n, _ := strconv.Atoi(m[1])
	if len(shards) != n {
		t.Errorf("matrix of %d shards for --shard K/%d", len(shards), n)
	}
	for i, k := range shards {
		if k != i+1 {
			t.Errorf("matrix shards %v: want 1..%d", shards, n)
		}
	}
	if scan.Strategy.FailFast == nil || *scan.Strategy.FailFast {
		t.Error("fail-fast must be false: one shard failing must not cancel the others")
	}
	if !keyed {
		t.Error("each shard must write the shared fingerprint key from a secret before scanning")
	}
	if merge.Needs != "scan" || !strings.Contains(merge.If, "always()") {
		t.Errorf("the merge must need scan and run always (needs %v, if %q)", merge.Needs, merge.If)
	}
	var mrun string
	for _, s := range merge.Steps {
		mrun += s.Run
	}
	if !strings.Contains(mrun, "nhi merge --into central.db 'shards/shard-*.db'") || !strings.Contains(mrun, "central.db.key") {
		t.Errorf("the merge job must write the key and merge every shard: %s", mrun)
	}
}
