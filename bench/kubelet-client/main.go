// Command kubelet-client drives a CRI endpoint for berth's benchmark through k8s.io/cri-client,
// the kubelet's own CRI client, so that the latencies measured are those a kubelet sees.
// It reads one JSON request per line on stdin and answers one JSON line on stdout; the
// requests and the load they describe are those of bench/driver.ts.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	internalapi "k8s.io/cri-api/pkg/apis"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	criclient "k8s.io/cri-client/pkg"
)

type podSpec struct {
	Name         string `json:"name"`
	UID          string `json:"uid"`
	Namespace    string `json:"namespace"`
	LogDirectory string `json:"logDirectory"`
	Image        string `json:"image"`
	Containers   int    `json:"containers"`
	CgroupParent string `json:"cgroupParent"`
}

type startedPod struct {
	PodID        string   `json:"podId"`
	ContainerIDs []string `json:"containerIds"`
	Ms           float64  `json:"ms"`
}

type request struct {
	Op      string       `json:"op"`
	Image   string       `json:"image,omitempty"`
	Pod     *podSpec     `json:"pod,omitempty"`
	PodID   string       `json:"podId,omitempty"`
	Call    string       `json:"call,omitempty"`
	N       int          `json:"n,omitempty"`
	Seconds int          `json:"seconds,omitempty"`
	Pods    []startedPod `json:"pods,omitempty"`
	UIDs    []string     `json:"uids,omitempty"`
}

type pollResult struct {
	Rounds         int                  `json:"rounds"`
	ElapsedSeconds float64              `json:"elapsedSeconds"`
	Latencies      map[string][]float64 `json:"latencies"`
	Errors         int                  `json:"errors"`
}

type client struct {
	runtime internalapi.RuntimeService
	image   internalapi.ImageManagerService
}

// The kubelet's default --runtime-request-timeout.
const callTimeout = 2 * time.Minute

func ms(since time.Time) float64 { return float64(time.Since(since).Microseconds()) / 1000 }

func (c *client) ensureImage(ctx context.Context, image string) error {
	spec := &runtimeapi.ImageSpec{Image: image}
	found, err := c.image.ImageStatus(ctx, spec, false)
	if err != nil {
		return err
	}
	if found.GetImage() == nil {
		_, err = c.image.PullImage(ctx, spec, nil, nil)
	}
	return err
}

func labels(pod *podSpec) map[string]string {
	return map[string]string{
		"io.kubernetes.pod.name":      pod.Name,
		"io.kubernetes.pod.namespace": pod.Namespace,
		"io.kubernetes.pod.uid":       pod.UID,
	}
}

func (c *client) runPod(ctx context.Context, pod *podSpec) (*startedPod, error) {
	config := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: pod.Name, Namespace: pod.Namespace, Uid: pod.UID},
		Hostname:     pod.Name,
		LogDirectory: pod.LogDirectory,
		Labels:       labels(pod),
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent: pod.CgroupParent,
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{
					Network: runtimeapi.NamespaceMode_POD,
					Pid:     runtimeapi.NamespaceMode_CONTAINER,
					Ipc:     runtimeapi.NamespaceMode_POD,
				},
			},
		},
	}
	started := time.Now()
	podID, err := c.runtime.RunPodSandbox(ctx, config, "")
	if err != nil {
		return nil, err
	}
	result := &startedPod{PodID: podID, ContainerIDs: []string{}}
	for j := 0; j < pod.Containers; j++ {
		name := fmt.Sprintf("app-%d", j)
		containerLabels := labels(pod)
		containerLabels["io.kubernetes.container.name"] = name
		id, err := c.runtime.CreateContainer(ctx, podID, &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: name},
			Image:    &runtimeapi.ImageSpec{Image: pod.Image},
			Command:  []string{"sleep", "3600"},
			LogPath:  name + "/0.log",
			Labels:   containerLabels,
		}, config)
		if err != nil {
			return result, err
		}
		if err := c.runtime.StartContainer(ctx, id); err != nil {
			return result, err
		}
		result.ContainerIDs = append(result.ContainerIDs, id)
	}
	result.Ms = ms(started)
	return result, nil
}

func (c *client) removePod(ctx context.Context, podID string) (float64, error) {
	started := time.Now()
	if err := c.runtime.StopPodSandbox(ctx, podID); err != nil {
		return 0, err
	}
	if err := c.runtime.RemovePodSandbox(ctx, podID); err != nil {
		return 0, err
	}
	return ms(started), nil
}

func (c *client) relist(ctx context.Context) error {
	if _, err := c.runtime.ListPodSandbox(ctx, nil); err != nil {
		return err
	}
	_, err := c.runtime.ListContainers(ctx, nil)
	return err
}

func (c *client) call(ctx context.Context, call string, i int, pods []startedPod) error {
	var pod startedPod
	if len(pods) > 0 {
		pod = pods[i%len(pods)]
	}
	var err error
	switch call {
	case "relist":
		err = c.relist(ctx)
	case "podSandboxStatus":
		_, err = c.runtime.PodSandboxStatus(ctx, pod.PodID, false)
	case "containerStatus":
		id := ""
		if len(pod.ContainerIDs) > 0 {
			id = pod.ContainerIDs[0]
		}
		_, err = c.runtime.ContainerStatus(ctx, id, false)
	case "status":
		_, err = c.runtime.Status(ctx, false)
	case "listContainerStats":
		_, err = c.runtime.ListContainerStats(ctx, &runtimeapi.ContainerStatsFilter{})
	case "listPodSandboxStats":
		_, err = c.runtime.ListPodSandboxStats(ctx, &runtimeapi.PodSandboxStatsFilter{})
	default:
		err = fmt.Errorf("unknown call %q", call)
	}
	return err
}

func (c *client) measure(ctx context.Context, call string, n int, pods []startedPod) ([]float64, error) {
	samples := make([]float64, 0, n)
	for i := 0; i < n; i++ {
		started := time.Now()
		if err := c.call(ctx, call, i, pods); err != nil {
			return samples, err
		}
		samples = append(samples, ms(started))
	}
	return samples, nil
}

// poll is JsDriver.poll's load (bench/js-driver.ts), call for call.
func (c *client) poll(ctx context.Context, seconds int, pods []startedPod, uids []string) pollResult {
	result := pollResult{Latencies: map[string][]float64{}}
	timed := func(name string, operation func() error) {
		started := time.Now()
		if err := operation(); err != nil {
			result.Errors++
			return
		}
		result.Latencies[name] = append(result.Latencies[name], ms(started))
	}
	podStatus := func(index int) error {
		pod := pods[index]
		selector := map[string]string{"io.kubernetes.pod.uid": uids[index]}
		if _, err := c.runtime.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: selector}); err != nil {
			return err
		}
		timed("podSandboxStatus", func() error {
			_, err := c.runtime.PodSandboxStatus(ctx, pod.PodID, false)
			return err
		})
		if _, err := c.runtime.ListContainers(ctx, &runtimeapi.ContainerFilter{LabelSelector: selector}); err != nil {
			return err
		}
		for _, id := range pod.ContainerIDs {
			timed("containerStatus", func() error {
				_, err := c.runtime.ContainerStatus(ctx, id, false)
				return err
			})
		}
		return nil
	}
	started := time.Now()
	for second := 0; second < seconds; second++ {
		if wait := time.Until(started.Add(time.Duration(second) * time.Second)); wait > 0 {
			time.Sleep(wait)
		}
		timed("relist", func() error { return c.relist(ctx) })
		if second%10 == 0 {
			timed("listContainerStats", func() error { return c.call(ctx, "listContainerStats", 0, nil) })
			timed("listPodSandboxStats", func() error { return c.call(ctx, "listPodSandboxStats", 0, nil) })
			timed("imageFsInfo", func() error {
				_, err := c.image.ImageFsInfo(ctx)
				return err
			})
		}
		if second%5 == 0 {
			timed("status", func() error { return c.call(ctx, "status", 0, nil) })
		}
		for i := second % 60; i < len(pods); i += 60 {
			timed("podStatus", func() error { return podStatus(i) })
		}
		result.Rounds++
	}
	result.ElapsedSeconds = time.Since(started).Seconds()
	return result
}

func (c *client) handle(req *request) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout+time.Duration(req.Seconds)*time.Second)
	defer cancel()
	switch req.Op {
	case "ensureImage":
		return map[string]any{}, c.ensureImage(ctx, req.Image)
	case "runPod":
		return c.runPod(ctx, req.Pod)
	case "removePod":
		took, err := c.removePod(ctx, req.PodID)
		return map[string]float64{"ms": took}, err
	case "measure":
		samples, err := c.measure(ctx, req.Call, req.N, req.Pods)
		return map[string][]float64{"samples": samples}, err
	case "poll":
		return c.poll(ctx, req.Seconds, req.Pods, req.UIDs), nil
	}
	return nil, fmt.Errorf("unknown op %q", req.Op)
}

func main() {
	endpoint := flag.String("endpoint", "", "CRI endpoint, unix:///path")
	flag.Parse()
	ctx := context.Background()
	runtimeService, err := criclient.NewRemoteRuntimeService(ctx, *endpoint, callTimeout, nil, false)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	imageService, err := criclient.NewRemoteImageService(ctx, *endpoint, callTimeout, nil, false)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	c := &client{runtime: runtimeService, image: imageService}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var req request
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			_ = out.Encode(map[string]string{"error": err.Error()})
			continue
		}
		result, err := c.handle(&req)
		if err != nil {
			_ = out.Encode(map[string]any{"error": err.Error(), "partial": result})
			continue
		}
		_ = out.Encode(map[string]any{"result": result})
	}
}
