package flinktest

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/finbeam/finbeam/testing/beamtest"
	"github.com/finbeam/finbeam/testing/mavenjars"
)

// BeamVersion is the Beam release the job server is built from (jobserver/pom.xml says why this one).
const BeamVersion = "2.72.0"

const (
	// beamSource is Beam's repository at BeamVersion as the Go module proxy serves it (without sdks/,
	// a module of its own), and its go.sum hash: the source of runners/flink and
	// runners/java-job-service.
	beamSource    = "github.com/apache/beam@v" + BeamVersion + "+incompatible"
	beamSourceSum = "h1:b2ZwEif8x2Lu7imqggYSjjsnyVUX67JyUthHZLVB+dM="
	// coreSources is beam-sdks-java-core's sources jar, for the one class the build patches, and its
	// SHA-256.
	coreSources    = "org.apache.beam:beam-sdks-java-core:" + BeamVersion + ":jar:sources"
	coreSourcesSum = "199deee4d31f6c6aa838235742ea2c9a8ddaf4aff2c07c3d9a4ca169c22d9ddd"
)

var (
	//go:embed jobserver/pom.xml
	jobServerPOM []byte
	//go:embed jobserver/FinbeamFlinkJobServer.java
	jobServerMain []byte
	//go:embed jobserver/jars.sha256
	jobServerSums []byte
)

// JobServerJars are the pinned dependencies of the job server.
var JobServerJars = mavenjars.Set{Name: "beam-flink-job-server-" + BeamVersion + "-flink-" + Version, POM: jobServerPOM, Sums: jobServerSums}

// runnerSources are the folders of Beam's repository compiled into the job server, in the order
// Beam's flink_runner.gradle lays them over each other: the runner's base sources, Flink 1.20's
// overrides, and the job service.
var runnerSources = []string{
	"runners/flink/src/main/java/",
	"runners/flink/1.20/src/main/java/",
	"runners/java-job-service/src/main/java/",
}

// BuildJobServer returns the job server's jar and the folder of the jars it needs, building it once
// into the cache of testing/mavenjars (about 2 minutes the first time): the pinned jars from Maven
// Central (JobServerJars), Beam's source through `go mod download` (checked against its go.sum
// hash), then `mvn package` of runnerSources with finbeam's driver (jobserver/FinbeamFlinkJobServer.java).
// One class of Beam's Java SDK is patched on the way (ServerFactory): Beam 2.72 binds its gRPC
// servers (job, artifact and expansion services, and the TaskManagers' servers for the Go workers)
// on every interface whatever host it is given; patched, they bind the host they are given
// (127.0.0.1).
func BuildJobServer(ctx context.Context, logf func(string, ...any)) (jar, lib string, err error) {
	lib, err = JobServerJars.Fetch(ctx, logf)
	if err != nil {
		return "", "", err
	}
	dir := filepath.Dir(lib)
	unlock, err := mavenjars.Lock(dir + ".build.lock")
	if err != nil {
		return "", "", err
	}
	defer unlock()
	jar = filepath.Join(dir, "finbeam-beam-flink-job-server.jar")
	stamp := filepath.Join(dir, "built-from")
	want := fmt.Sprintf("%s %s %x %x\n", beamSourceSum, coreSourcesSum, sha256.Sum256(jobServerPOM), sha256.Sum256(jobServerMain))
	if b, err := os.ReadFile(stamp); err == nil && string(b) == want {
		if _, err := os.Stat(jar); err == nil {
			return jar, lib, nil
		}
	}
	logf("building Beam %s's Flink job server from its sources into %s (once, about 2 minutes)", BeamVersion, dir)
	src := filepath.Join(dir, "src", "main", "java")
	if err := os.RemoveAll(filepath.Join(dir, "src")); err != nil {
		return "", "", err
	}
	if err := copyBeamSources(ctx, src); err != nil {
		return "", "", err
	}
	if err := patchServerFactory(ctx, src); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(filepath.Join(src, "org", "apache", "beam", "runners", "flink", "FinbeamFlinkJobServer.java"), jobServerMain, 0o644); err != nil {
		return "", "", err
	}
	if out, err := mavenjars.MVN(ctx, dir, "package"); err != nil {
		return "", "", fmt.Errorf("flinktest: building the job server: mvn package: %w\n%s", err, beamtest.Tail(out, 30))
	}
	if err := os.Rename(filepath.Join(dir, "target", "beam-flink-job-server-1.jar"), jar); err != nil {
		return "", "", err
	}
	return jar, lib, os.WriteFile(stamp, []byte(want), 0o644)
}

// copyBeamSources fetches Beam's source through the Go module proxy and copies runnerSources into
// src, later folders overriding earlier ones. package-info.java files are left out: they hold only
// annotations from Beam's build tools, which are not published.
func copyBeamSources(ctx context.Context, src string) error {
	out, err := exec.CommandContext(ctx, "go", "mod", "download", "-json", beamSource).Output()
	if err != nil {
		return fmt.Errorf("flinktest: go mod download %s: %w", beamSource, err)
	}
	var mod struct{ Zip, Sum, Error string }
	if err := json.Unmarshal(out, &mod); err != nil {
		return fmt.Errorf("flinktest: go mod download %s: %w", beamSource, err)
	}
	if mod.Error != "" {
		return fmt.Errorf("flinktest: go mod download %s: %s", beamSource, mod.Error)
	}
	if mod.Sum != beamSourceSum {
		return fmt.Errorf("flinktest: %s has hash %s, not the pinned %s", beamSource, mod.Sum, beamSourceSum)
	}
	z, err := zip.OpenReader(mod.Zip)
	if err != nil {
		return err
	}
	defer z.Close()
	files := map[string]*zip.File{}
	prefix := beamSource + "/"
	for _, root := range runnerSources {
		n := 0
		for _, f := range z.File {
			rel, ok := strings.CutPrefix(f.Name, prefix+root)
			if !ok || !strings.HasSuffix(rel, ".java") || filepath.Base(rel) == "package-info.java" {
				continue
			}
			files[rel] = f
			n++
		}
		if n == 0 {
			return fmt.Errorf("flinktest: %s holds no %s", beamSource, root)
		}
	}
	for rel, f := range files {
		if err := extract(f, filepath.Join(src, rel)); err != nil {
			return err
		}
	}
	return nil
}

func extract(f *zip.File, path string) error {
	r, err := f.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	w, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// patchServerFactory adds Beam's ServerFactory to src, taken from beam-sdks-java-core's sources jar
// (checked against its SHA-256) with its servers bound to the address they are given instead of
// every interface. The job server's jar comes first on every classpath, so its class wins.
func patchServerFactory(ctx context.Context, src string) error {
	if out, err := mavenjars.MVN(ctx, filepath.Dir(filepath.Dir(filepath.Dir(src))), "dependency:get", "-Dtransitive=false", "-Dartifact="+coreSources); err != nil {
		return fmt.Errorf("flinktest: fetching %s: %w\n%s", coreSources, err, beamtest.Tail(out, 10))
	}
	jar := filepath.Join(mavenjars.CacheDir(), "m2", "org", "apache", "beam", "beam-sdks-java-core", BeamVersion, "beam-sdks-java-core-"+BeamVersion+"-sources.jar")
	b, err := os.ReadFile(jar)
	if err != nil {
		return err
	}
	if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != coreSourcesSum {
		return fmt.Errorf("flinktest: %s does not match its pinned SHA-256", jar)
	}
	z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return err
	}
	const name = "org/apache/beam/sdk/fn/server/ServerFactory.java"
	java, err := fs.ReadFile(z, name)
	if err != nil {
		return fmt.Errorf("flinktest: %s: %w", jar, err)
	}
	const from, to = "NettyServerBuilder.forPort(socket.getPort())", "NettyServerBuilder.forAddress(socket)"
	if bytes.Count(java, []byte(from)) != 1 {
		return fmt.Errorf("flinktest: %s in %s no longer binds with %q: look at the patch again", name, jar, from)
	}
	path := filepath.Join(src, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, bytes.Replace(java, []byte(from), []byte(to), 1), 0o644)
}

// jobServerMainClass is Beam's FlinkJobServerDriver with the checkpointing options a Go job cannot
// send taken from the Flink configuration (jobserver/FinbeamFlinkJobServer.java says why).
const jobServerMainClass = "org.apache.beam.runners.flink.FinbeamFlinkJobServer"

// JobServerOptions of StartJobServer. Zero values take the defaults.
type JobServerOptions struct {
	// FlinkMaster is the cluster's REST address (host:port, as Cluster.REST without http://), or
	// "[local]" for a mini cluster inside the job server's JVM; default "[local]".
	FlinkMaster string
	// ConfDir is the Flink configuration the job server gives its jobs (Cluster.Dir/conf): the Go
	// SDK cannot pass checkpointing or state backend options, so they come from there.
	ConfDir string
	JobPort int    // the job service on 127.0.0.1; 0: a free port
	Log     string // the JVM's output; default: a file in a temporary directory
	Logf    func(format string, args ...any)
}

// JobServerFor are the options of a job server in front of c: its REST address, its configuration
// and a log beside the cluster's, on jobPort (0: a free port).
func (c *Cluster) JobServerFor(jobPort int, logf func(format string, args ...any)) JobServerOptions {
	return JobServerOptions{FlinkMaster: strings.TrimPrefix(c.REST, "http://"), ConfDir: c.Conf(), JobPort: jobPort,
		Log: filepath.Join(c.Logs(), "jobserver.log"), Logf: logf}
}

// JobServer is a running Beam Flink job server.
type JobServer struct {
	Endpoint string // 127.0.0.1:port of the job service: a pipeline's --endpoint
	Log      string
	proc     *mavenjars.Process
}

// StartJobServer builds the job server if needed (BuildJobServer) and starts it on 127.0.0.1,
// returning once its job service answers (about 5 s); on an error nothing is left running.
func StartJobServer(ctx context.Context, o JobServerOptions) (*JobServer, error) {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.FlinkMaster == "" {
		o.FlinkMaster = "[local]"
	}
	jar, lib, err := BuildJobServer(ctx, o.Logf)
	if err != nil {
		return nil, err
	}
	if o.JobPort == 0 {
		if o.JobPort, err = beamtest.FreePort(); err != nil {
			return nil, err
		}
	}
	if o.Log == "" {
		d, err := os.MkdirTemp("", "finbeam-jobserver-")
		if err != nil {
			return nil, err
		}
		o.Log = filepath.Join(d, "jobserver.log")
	}
	args := append(append([]string{}, jvmOpens...), "-Xmx1g", "-cp", jar+string(os.PathListSeparator)+filepath.Join(lib, "*"),
		jobServerMainClass, "--flink-master="+o.FlinkMaster,
		"--job-host=127.0.0.1", fmt.Sprintf("--job-port=%d", o.JobPort), "--artifact-port=0", "--expansion-port=0")
	if o.ConfDir != "" {
		args = append(args, "--flink-conf-dir="+o.ConfDir)
	}
	p, err := mavenjars.Java("job server", o.Log, args...)
	if err != nil {
		return nil, err
	}
	js := &JobServer{Endpoint: fmt.Sprintf("127.0.0.1:%d", o.JobPort), Log: o.Log, proc: p}
	deadline := time.Now().Add(time.Minute)
	for {
		if c, err := net.DialTimeout("tcp", js.Endpoint, time.Second); err == nil {
			c.Close()
			return js, nil
		}
		if err := p.Exited(); err != nil {
			return nil, fmt.Errorf("flinktest: %w", err)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.Stop()
			return nil, fmt.Errorf("flinktest: the job server did not answer on %s within a minute; see %s", js.Endpoint, o.Log)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Pid is the job server's process id.
func (js *JobServer) Pid() int { return js.proc.Pid() }

// Close stops the job server (SIGTERM, then SIGKILL after 10 s).
func (js *JobServer) Close() { js.proc.Stop() }
