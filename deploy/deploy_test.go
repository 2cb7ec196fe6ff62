// Package deploy holds the recipes for running nhi on a schedule (GitHub
// Actions, a Kubernetes CronJob, a systemd timer) and the tests that
// check each against the tool that will run it: the Kubernetes API types
// (strict: an unknown or misspelt field fails), actionlint, and
// systemd-analyze. It is its own module so that the Kubernetes and
// actionlint dependencies stay out of nhi's.
package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKubernetesCronJob(t *testing.T) {
	docs := bytes.Split(read(t, "kubernetes/nhi-scan.yaml"), []byte("\n---\n"))
	if len(docs) != 2 {
		t.Fatalf("%d documents, want the PersistentVolumeClaim and the CronJob", len(docs))
	}
	var pvc corev1.PersistentVolumeClaim
	if err := yaml.UnmarshalStrict(docs[0], &pvc); err != nil {
		t.Fatalf("PersistentVolumeClaim: %v", err)
	}
	var cj batchv1.CronJob
	if err := yaml.UnmarshalStrict(docs[1], &cj); err != nil {
		t.Fatalf("CronJob: %v", err)
	}
	if pvc.Kind != "PersistentVolumeClaim" || pvc.APIVersion != "v1" || cj.Kind != "CronJob" || cj.APIVersion != "batch/v1" {
		t.Fatalf("kinds %s %s / %s %s", pvc.APIVersion, pvc.Kind, cj.APIVersion, cj.Kind)
	}
	if _, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; !ok {
		t.Error("the claim requests no storage")
	}
	if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Errorf("concurrencyPolicy %q, want Forbid", cj.Spec.ConcurrencyPolicy)
	}
	pod := cj.Spec.JobTemplate.Spec.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %q", pod.RestartPolicy)
	}
	claimVolume := ""
	for _, v := range pod.Volumes {
		if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == pvc.Name {
			claimVolume = v.Name
		}
	}
	if len(pod.Containers) != 1 || claimVolume == "" {
		t.Fatalf("want one container and a volume of claim %s", pvc.Name)
	}
	c := pod.Containers[0]
	dataDir := ""
	for _, m := range c.VolumeMounts {
		if m.Name == claimVolume {
			dataDir = m.MountPath
		}
	}
	args := strings.Join(c.Args, " ")
	// The database, and so its key file beside it, is on the claim.
	if dataDir == "" || !strings.Contains(args, "--db "+dataDir+"/nhi.db") {
		t.Errorf("the inventory is not on the claim: args %q, claim mounted at %q", args, dataDir)
	}
	if !strings.Contains(args, "--post env:") {
		t.Errorf("args %q: the webhook URL must come from the environment", args)
	}
	for _, e := range c.Env {
		if strings.Contains(e.Value, "://") {
			t.Errorf("env %s holds a URL in the manifest; it belongs in a Secret", e.Name)
		}
		if strings.HasSuffix(e.Name, "_URL") && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
			t.Errorf("env %s does not come from a Secret", e.Name)
		}
	}
}

func TestGitHubActionsWorkflow(t *testing.T) {
	path := "github-actions/nhi-scan.yml"
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
	w := string(src)
	for _, want := range []string{"schedule:", "nhi.db\n", "nhi.db.key\n", "--fail-on", "--post env:", "secrets."} {
		if !strings.Contains(w, want) {
			t.Errorf("the workflow lacks %q", want)
		}
	}
	// Both cache steps keep the database and its key together.
	if strings.Count(w, "nhi.db.key") < 2 {
		t.Error("the key file must be restored and saved with the database")
	}
}

// systemd-analyze verify checks the units as systemd would load them. The
// binary the service starts is made to exist for it.
func TestSystemdUnits(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze is needed to verify the units: apt-get install systemd")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "nhi")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	svc := strings.ReplaceAll(string(read(t, "systemd/nhi-scan.service")), "/usr/local/bin/nhi", bin)
	svc = strings.ReplaceAll(svc, "EnvironmentFile=/etc/nhi/env", "EnvironmentFile=-/etc/nhi/env")
	for name, body := range map[string]string{"nhi-scan.service": svc, "nhi-scan.timer": string(read(t, "systemd/nhi-scan.timer"))} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(analyze, "verify", "--man=no", filepath.Join(dir, "nhi-scan.service"), filepath.Join(dir, "nhi-scan.timer")).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	if !strings.Contains(svc, "StateDirectory=nhi") || !strings.Contains(svc, "--db /var/lib/nhi/nhi.db") {
		t.Error("the inventory (and its key beside it) must be in the service's StateDirectory")
	}
	if !strings.Contains(svc, "SuccessExitStatus=1 3 4") {
		t.Error("exit 1, 3 and 4 are recorded outcomes, not unit failures")
	}
}
