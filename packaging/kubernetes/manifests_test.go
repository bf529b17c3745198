// Package kubernetes checks the manifests beside it against the
// Kubernetes API offline: each document is decoded strictly (an unknown
// or repeated field, a wrong type, an unknown kind or a bad quantity is
// an error) by apimachinery's own decoder into the API's Go types
// (k8s.io/api, and prometheus-operator's for the ServiceMonitor), the
// types from which the API server's OpenAPI schemas are generated. Then
// what the schemas cannot say: that the selectors select, the named ports
// exist, and the exporter takes the arguments.
package kubernetes

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/yaml"
)

// decode reads every document of the manifest files strictly.
func decode(t *testing.T, files ...string) []runtime.Object {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{appsv1.AddToScheme, corev1.AddToScheme, monitoringv1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	dec := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
	var objs []runtime.Object
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r := yaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for n := 1; ; n++ {
			doc, err := r.Read()
			if err != nil {
				break
			}
			if onlyComments(doc) {
				continue
			}
			obj, gvk, err := dec.Decode(doc, nil, nil)
			if err != nil {
				t.Fatalf("%s, document %d: %v", f, n, err)
			}
			t.Logf("%s, document %d: %s", f, n, gvk)
			objs = append(objs, obj)
		}
	}
	return objs
}

// onlyComments reports whether a document holds nothing but comments.
func onlyComments(doc []byte) bool {
	for l := range strings.Lines(string(doc)) {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

func TestManifests(t *testing.T) {
	var ds *appsv1.DaemonSet
	var svc *corev1.Service
	var sm *monitoringv1.ServiceMonitor
	for _, obj := range decode(t, "ipvs-exporter.yaml", "servicemonitor.yaml") {
		switch o := obj.(type) {
		case *appsv1.DaemonSet:
			ds = o
		case *corev1.Service:
			svc = o
		case *monitoringv1.ServiceMonitor:
			sm = o
		default:
			t.Errorf("unexpected %T", obj)
		}
	}
	if ds == nil || svc == nil || sm == nil {
		t.Fatalf("want a DaemonSet, a Service and a ServiceMonitor")
	}
	pod := ds.Spec.Template
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(pod.Labels)) {
		t.Errorf("the DaemonSet's selector %v does not select its pods %v", ds.Spec.Selector, pod.Labels)
	}
	if !pod.Spec.HostNetwork {
		t.Error("not on the host's network: it would export the pod's empty table")
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	sc := c.SecurityContext
	wantCaps := []corev1.Capability{"NET_ADMIN"}
	if slices.ContainsFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--netns") }) {
		wantCaps = append(wantCaps, "SYS_ADMIN")
	}
	if sc == nil || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Add, wantCaps) ||
		!slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("capabilities %+v, want all dropped and %v added", sc, wantCaps)
	}
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("want no privilege escalation and a read-only root")
	}
	var netns *corev1.VolumeMount
	for i, m := range c.VolumeMounts {
		if m.MountPath == "/var/run/netns" {
			netns = &c.VolumeMounts[i]
		}
	}
	if netns == nil || netns.MountPropagation == nil || *netns.MountPropagation != corev1.MountPropagationHostToContainer {
		t.Errorf("/var/run/netns: %+v, want the host's, with the namespaces made after the pod (HostToContainer)", netns)
	} else if !slices.ContainsFunc(pod.Spec.Volumes, func(v corev1.Volume) bool {
		return v.Name == netns.Name && v.HostPath != nil && v.HostPath.Path == "/var/run/netns"
	}) {
		t.Errorf("volume %s is not the host's /var/run/netns", netns.Name)
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	for _, probe := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe} {
		if probe == nil || probe.HTTPGet == nil || ports[probe.HTTPGet.Port.StrVal] == 0 {
			t.Errorf("probe %+v names no port of the container", probe)
		}
	}

	if svc.Namespace != ds.Namespace || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels)) {
		t.Errorf("the Service %s/%s does not select the pods", svc.Namespace, svc.Name)
	}
	svcPorts := map[string]bool{}
	for _, p := range svc.Spec.Ports {
		svcPorts[p.Name] = true
		if ports[p.TargetPort.StrVal] != p.Port {
			t.Errorf("Service port %s: target %v is not the container's %v", p.Name, p.TargetPort, ports)
		}
	}
	smSel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
	if err != nil || !smSel.Matches(labels.Set(svc.Labels)) || !slices.Contains(sm.Spec.NamespaceSelector.MatchNames, svc.Namespace) {
		t.Errorf("the ServiceMonitor does not select the Service")
	}
	for _, e := range sm.Spec.Endpoints {
		if !svcPorts[e.Port] {
			t.Errorf("ServiceMonitor endpoint port %q is none of the Service's", e.Port)
		}
	}

	// The exporter takes the arguments: it parses them, then prints its
	// version and exits.
	exporter := filepath.Join(t.TempDir(), "ipvs_exporter")
	build := exec.Command("go", "build", "-o", exporter, "./cmd/ipvs_exporter")
	build.Dir = filepath.Join("..", "..", "exporter")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the exporter: %v\n%s", err, out)
	}
	if out, err := exec.Command(exporter, append(slices.Clone(c.Args), "--version")...).CombinedOutput(); err != nil {
		t.Errorf("ipvs_exporter %q: %v\n%s", c.Args, err, out)
	}
}
