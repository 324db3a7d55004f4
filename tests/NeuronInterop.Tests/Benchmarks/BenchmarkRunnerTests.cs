using NeuronInterop.Benchmarks;
using NeuronInterop.Tests.Infrastructure;
using NUnit.Framework;

namespace NeuronInterop.Tests.Benchmarks;

/// <summary>The benchmark runner in quick mode: every case measured, every step checked, the report round-trips.</summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.Names))]
public sealed class BenchmarkRunnerTests(string backend)
{
    private string _deviceName = null!;
    private BackendKind _backend;
    private BenchmarkReport _report = null!;
    private string _folder = null!;

    [OneTimeSetUp]
    public void RunQuickBenchmarks()
    {
        // The device is shared process-wide; only its name is kept.
        var device = TestBackends.Get(backend);
        _deviceName = device.ToString();
        _backend = device.Backend;
        _folder = Directory.CreateTempSubdirectory("neuron-bench-").FullName;
        _report = BenchmarkRunner.Run(new BenchmarkOptions
        {
            Device = _deviceName,
            Quick = true,
        });
        _report.WriteJson(Path.Combine(_folder, "bench.json"));
    }

    [OneTimeTearDown]
    public void RemoveFolder()
    {
        if (_folder is not null && Directory.Exists(_folder))
            Directory.Delete(_folder, recursive: true);
    }

    [Test]
    public void ReportCoversEveryCaseAndTheTutorialVariants()
    {
        Assert.That(_report.Results.Select(r => r.CaseId).Distinct(), Is.EqualTo(BenchmarkRunner.CaseIds));
        Assert.That(_report.Results.Where(r => r.CaseId == "tutorial").Select(r => r.Variant),
            Is.EquivalentTo(new[] { Variants.Trainer, Variants.TrainerCallback, Variants.Modules, Variants.DeviceResident }));
        Assert.That(_report.Results.Where(r => r.CaseId != "tutorial").Select(r => r.Variant), Is.All.EqualTo(Variants.Trainer));
        Assert.Multiple(() =>
        {
            Assert.That(_report.Device, Is.EqualTo(_deviceName));
            Assert.That(_report.Backend, Is.EqualTo(_backend == BackendKind.Cuda ? "cuda" : "host"));
            Assert.That(_report.Quick, Is.True);
            if (_backend == BackendKind.Host)
            {
                Assert.That(_report.DeviceName, Does.StartWith($"host backend, {Device.HostInfo.Threads} threads ({Device.HostInfo.Simd})"),
                    "the threads timed, which NEURON_HOST_THREADS sets");
            }
        });
    }

    [Test]
    public void EveryResultHasPositiveFiniteTimingsAndItsFlopCount()
    {
        foreach (var r in _report.Results)
        {
            var what = $"{r.CaseId}/{r.Variant}";
            Assert.That(r.Error, Is.Null, what);
            Assert.That(double.IsFinite(r.SecondsPerStep) && r.SecondsPerStep > 0, Is.True, $"{what}: {r.SecondsPerStep} s/step");
            Assert.That(r.MinSecondsPerStep, Is.GreaterThan(0).And.LessThanOrEqualTo(r.SecondsPerStep), what);
            Assert.That(r.MaxSecondsPerStep, Is.GreaterThanOrEqualTo(r.SecondsPerStep), what);
            Assert.That(r.StepsPerSecond, Is.EqualTo(1 / r.SecondsPerStep).Within(1e-9).Percent, what);
            Assert.That(r.FlopsPerStep, Is.EqualTo(4.0 * r.Batch * r.InSize * r.OutSize), what);
            Assert.That(r.Tflops, Is.EqualTo(r.FlopsPerStep / r.SecondsPerStep / 1e12).Within(1e-9).Percent, what);
            Assert.That(r.Repeats, Is.EqualTo(3), what);
            Assert.That(r.StepsPerRepeat, Is.GreaterThan(0), what);
        }
    }

    [Test]
    public void EveryStepMatchesTheHostBackendAndTheReference()
    {
        foreach (var r in _report.Results)
        {
            var what = $"{r.CaseId}/{r.Variant}";
            Assert.That(r.Check, Is.Not.Null, what);
            var check = r.Check!;
            Assert.That(check.CheckedColumns, Is.EqualTo(Math.Min(r.OutSize, CorrectnessCheck.MaxColumns)), what);
            Assert.That(check.ReferenceMagnitude, Is.GreaterThan(0), what);
            Assert.That(check.MaxAbsDiffHost, Is.LessThanOrEqualTo(check.Tolerance), what);
            Assert.That(check.MaxAbsDiffReference, Is.LessThanOrEqualTo(check.Tolerance), what);
            Assert.That(check.Passed, Is.True, what);
        }
    }

    [Test]
    public void QuickRunsAreNotJudgedAgainstTheTargets()
    {
        var judged = _report.Results.Where(r => r.Target is not null).ToList();
        Assert.That(judged.Select(r => $"{r.CaseId}/{r.Variant}"),
            Is.EquivalentTo(new[] { "tutorial/trainer", "tutorial/device-resident", "huge/trainer", "mid/trainer", "large/trainer" }));
        Assert.That(judged.Select(r => r.Target!.Status), Is.All.EqualTo(TargetResult.NotJudged));
        Assert.That(_report.AllPassed, Is.True);
    }

    [Test]
    public void JsonFileRoundTrips()
    {
        var text = File.ReadAllText(Path.Combine(_folder, "bench.json"));
        var parsed = BenchmarkReport.FromJson(text);
        Assert.That(parsed.ToJson(), Is.EqualTo(_report.ToJson()));
        Assert.That(parsed.Results, Has.Count.EqualTo(_report.Results.Count));
        var first = parsed.Results[0];
        Assert.That(first.SecondsPerStep, Is.EqualTo(_report.Results[0].SecondsPerStep));
        Assert.That(first.Check!.MaxAbsDiffHost, Is.EqualTo(_report.Results[0].Check!.MaxAbsDiffHost));
        Assert.That(text, Does.Contain("\"seconds_per_step\"").And.Contain("\"case_id\": \"large\""));
    }

    [Test]
    public void TableListsEveryCaseAndStatesTheFlopCount()
    {
        var table = _report.ToTable();
        foreach (var id in BenchmarkRunner.CaseIds)
            Assert.That(table, Does.Contain(id));
        Assert.That(table, Does.Contain("4·B·I·O").And.Contain("quick"));
    }

    [Test]
    public void CaseFilterRunsOnlyTheNamedCasesAndReadsAPyTorchFile()
    {
        var huge = _report.Results.Single(r => r.CaseId == "huge");
        var pytorchPath = Path.Combine(_folder, "pytorch.json");
        File.WriteAllText(pytorchPath, $$"""
            {"tool": "pytorch", "torch_version": "test", "device_name": "fake", "quick": true,
             "results": [{"case_id": "huge", "variant": "eager", "batch": {{huge.Batch}}, "in_size": 1, "out_size": 1,
                          "seconds_per_step": 0.5}]}
            """);

        var report = BenchmarkRunner.Run(new BenchmarkOptions
        {
            Device = _deviceName, Quick = true, Cases = ["huge"], PyTorchJsonPath = pytorchPath,
        });

        var result = report.Results.Single();
        Assert.That(result.CaseId, Is.EqualTo("huge"));
        Assert.That(result.PyTorch!.EagerSecondsPerStep, Is.EqualTo(0.5));
        Assert.That(result.PyTorch.RatioToEager, Is.EqualTo(result.SecondsPerStep / 0.5).Within(1e-12));
        Assert.That(result.PyTorch.RatioToGraph, Is.Null);
        Assert.That(report.PyTorchVersion, Does.Contain("torch test"));
    }

    [Test]
    public void UnknownCaseIsRejected()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            BenchmarkRunner.Run(new BenchmarkOptions { Device = _deviceName, Quick = true, Cases = ["tiny"] }));
        Assert.That(e!.Message, Does.Contain("tiny").And.Contain("tutorial, huge, mid, large"));
    }
}
