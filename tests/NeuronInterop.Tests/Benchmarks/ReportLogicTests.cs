using NeuronInterop.Benchmarks;
using NUnit.Framework;

namespace NeuronInterop.Tests.Benchmarks;

/// <summary>Ratios, targets, result-file parsing and the correctness check's arithmetic (no timing involved).</summary>
public sealed class ReportLogicTests
{
    private static BenchmarkResult Result(string caseId, string variant, long batch, int inSize, int outSize, double secondsPerStep) => new()
    {
        CaseId = caseId,
        Variant = variant,
        Batch = batch,
        InSize = inSize,
        OutSize = outSize,
        Rows = batch,
        Scale = "full size",
        SecondsPerStep = secondsPerStep,
        StepsPerSecond = 1 / secondsPerStep,
        Check = new CorrectnessResult { CheckedColumns = 1, Tolerance = 1e-6, ReferenceMagnitude = 1, Passed = true },
    };

    /// <summary>A full-size CUDA run: tutorial 4 µs (250k steps/s) and 1.5 µs device-resident (667k), huge 50 µs, mid 0.7 ms, large 12 ms.</summary>
    private static BenchmarkReport FullCudaRun() => new BenchmarkReport
    {
        Device = "cuda:0",
        Backend = "cuda",
        Results =
        [
            Result("tutorial", Variants.Trainer, 1, 1, 1, 4e-6),
            Result("tutorial", Variants.DeviceResident, 1, 1, 1, 1.5e-6),
            Result("tutorial", Variants.Modules, 1, 1, 1, 20e-6),
            Result("huge", Variants.Trainer, 1_048_576, 1, 1, 50e-6),
            Result("mid", Variants.Trainer, 65_536, 256, 256, 0.7e-3),
            Result("large", Variants.Trainer, 8_192, 4_096, 4_096, 12e-3),
        ],
    };

    private const string PyTorchJson = """
        {
          "tool": "pytorch", "torch_version": "2.11.0", "device_name": "NVIDIA H200", "quick": false,
          "results": [
            {"case_id": "tutorial", "variant": "eager", "batch": 1, "in_size": 1, "out_size": 1, "seconds_per_step": 830e-6},
            {"case_id": "tutorial", "variant": "graph", "batch": 1, "in_size": 1, "out_size": 1, "seconds_per_step": 23e-6},
            {"case_id": "huge", "variant": "eager", "batch": 1048576, "in_size": 1, "out_size": 1, "seconds_per_step": 0.72e-3},
            {"case_id": "huge", "variant": "graph", "batch": 1048576, "in_size": 1, "out_size": 1, "seconds_per_step": 0, "error": "capture failed"},
            {"case_id": "mid", "variant": "eager", "batch": 65536, "in_size": 256, "out_size": 256, "seconds_per_step": 0.65e-3},
            {"case_id": "large", "variant": "eager", "batch": 8192, "in_size": 4096, "out_size": 4096, "seconds_per_step": 11e-3}
          ]
        }
        """;

    [Test]
    public void TheTimingPlanIsDescribedAsItRuns()
    {
        Assert.That(TimingPlan.For(new BenchmarkOptions()).Describe(), Is.EqualTo("warm-up ≥ 0.2 s, then 7 repeats of ≥ 0.15 s"));
        Assert.That(TimingPlan.For(new BenchmarkOptions { Quick = true }).Describe(),
            Is.EqualTo("1 unit of warm-up, then 3 repeats of one unit"), "a quick run has no least times");
        Assert.That(TimingPlan.For(new BenchmarkOptions { Quick = true, MinRepeatSeconds = 0.5, Repeats = 1 }).Describe(),
            Is.EqualTo("1 unit of warm-up, then 1 repeat of ≥ 0.5 s"));
    }

    [Test]
    public void RatiosAreOurTimeOverPyTorchsPerCase()
    {
        var report = FullCudaRun().WithPyTorch(PyTorchReport.Parse(PyTorchJson), "torch.json");
        var tutorial = report.Results.Single(r => r.CaseId == "tutorial" && r.Variant == Variants.Trainer);
        Assert.That(tutorial.PyTorch!.RatioToEager, Is.EqualTo(4e-6 / 830e-6).Within(1e-12));
        Assert.That(tutorial.PyTorch.RatioToGraph, Is.EqualTo(4e-6 / 23e-6).Within(1e-12));
        var huge = report.Results.Single(r => r.CaseId == "huge");
        Assert.That(huge.PyTorch!.RatioToEager, Is.EqualTo(50e-6 / 0.72e-3).Within(1e-12));
        Assert.That(huge.PyTorch.RatioToGraph, Is.Null, "a failed PyTorch variant gives no ratio");
        Assert.That(report.PyTorchSource, Is.EqualTo("torch.json"));
        Assert.That(report.ToTable(), Does.Contain("× eager").And.Contain("torch 2.11.0 on NVIDIA H200"));
    }

    [Test]
    public void TargetsArePassedOrMissedByTheirThresholds()
    {
        var report = FullCudaRun().WithPyTorch(PyTorchReport.Parse(PyTorchJson));
        string Status(string caseId, string variant) => report.Results.Single(r => r.CaseId == caseId && r.Variant == variant).Target!.Status;

        Assert.Multiple(() =>
        {
            Assert.That(Status("tutorial", Variants.Trainer), Is.EqualTo(TargetResult.Pass));          // 250k ≥ 200k
            Assert.That(Status("tutorial", Variants.DeviceResident), Is.EqualTo(TargetResult.Miss));   // 667k < 900k
            Assert.That(Status("huge", Variants.Trainer), Is.EqualTo(TargetResult.Pass));              // 0.069 ≤ 0.1
            Assert.That(Status("mid", Variants.Trainer), Is.EqualTo(TargetResult.Miss));               // 1.08 > 1.0
            Assert.That(Status("large", Variants.Trainer), Is.EqualTo(TargetResult.Pass));             // 1.09 ≤ 1.2
            Assert.That(report.Results.Single(r => r.Variant == Variants.Modules).Target, Is.Null);
        });
        var missed = report.Results.Single(r => r.CaseId == "tutorial" && r.Variant == Variants.DeviceResident).Target!;
        Assert.That(missed.Detail, Does.Contain("26% short"));
        Assert.That(report.Results.Single(r => r.CaseId == "mid").Target!.Detail, Does.Contain("1.08 × the allowed time"));
        Assert.That(report.AllPassed, Is.False);
        Assert.That(report.AllCorrect, Is.True);
    }

    [Test]
    public void RatioTargetsWithoutPyTorchAreNotJudged()
    {
        var report = FullCudaRun().WithTargets();
        Assert.That(report.Results.Single(r => r.CaseId == "large").Target!.Status, Is.EqualTo(TargetResult.NotJudged));
        Assert.That(report.Results.Single(r => r.CaseId == "tutorial" && r.Variant == Variants.Trainer).Target!.Status,
            Is.EqualTo(TargetResult.Pass));
    }

    [Test]
    public void AFailedCheckMissesTheTargetWhateverTheSpeed()
    {
        var run = FullCudaRun();
        run = run with
        {
            Results = run.Results.Select(r => r.CaseId == "huge" ? r with { Check = r.Check! with { Passed = false } } : r).ToArray(),
        };
        var huge = run.WithPyTorch(PyTorchReport.Parse(PyTorchJson)).Results.Single(r => r.CaseId == "huge");
        Assert.That(huge.Target!.Status, Is.EqualTo(TargetResult.Miss));
        Assert.That(huge.Target.Detail, Does.Contain("differ"));
        Assert.That(run.AllCorrect, Is.False);
    }

    [Test]
    public void HostOrScaledRunsAreNotJudged()
    {
        var host = FullCudaRun() with { Backend = "host", Device = "host" };
        Assert.That(host.WithPyTorch(PyTorchReport.Parse(PyTorchJson)).Results.Where(r => r.Target is not null).Select(r => r.Target!.Status),
            Is.All.EqualTo(TargetResult.NotJudged));
    }

    [Test]
    public void DifferentSizesGiveANoteInsteadOfARatio()
    {
        var run = FullCudaRun();
        run = run with { Results = run.Results.Select(r => r.CaseId == "mid" ? r with { Batch = 1024 } : r).ToArray() };
        var mid = run.WithPyTorch(PyTorchReport.Parse(PyTorchJson)).Results.Single(r => r.CaseId == "mid");
        Assert.That(mid.PyTorch!.RatioToEager, Is.Null);
        Assert.That(mid.PyTorch.Note, Does.Contain("sizes differ"));
    }

    [Test]
    public void RowsQuickModeOrDeviceThatDifferGiveANoteInsteadOfARatio()
    {
        static string Json(bool quick, string device, long rows) => $$"""
            {"quick": {{(quick ? "true" : "false")}}, "device": "{{device}}", "results": [
              {"case_id": "tutorial", "variant": "eager", "batch": 1, "in_size": 1, "out_size": 1, "rows": {{rows}}, "seconds_per_step": 830e-6}]}
            """;
        var run = FullCudaRun();
        run = run with { Results = run.Results.Select(r => r.CaseId == "tutorial" ? r with { Rows = 1000 } : r).ToArray() };
        PyTorchComparison Tutorial(BenchmarkReport ours, string json) =>
            ours.WithPyTorch(PyTorchReport.Parse(json)).Results.Single(r => r.CaseId == "tutorial" && r.Variant == Variants.Trainer).PyTorch!;

        Assert.Multiple(() =>
        {
            Assert.That(Tutorial(run, Json(false, "cuda", 1000)).RatioToEager, Is.EqualTo(4e-6 / 830e-6).Within(1e-12));
            var quick = Tutorial(run, Json(true, "cuda", 1000));
            Assert.That(quick.RatioToEager, Is.Null);
            Assert.That(quick.Note, Does.Contain("PyTorch ran its quick mode, this run its full mode"));
            var cpu = Tutorial(run, Json(false, "cpu", 1000));
            Assert.That(cpu.RatioToEager, Is.Null);
            Assert.That(cpu.Note, Does.Contain("PyTorch ran on cpu, this run on cuda"));
            var rows = Tutorial(run, Json(false, "cuda", 64));
            Assert.That(rows.RatioToEager, Is.Null);
            Assert.That(rows.Note, Does.Contain("from 64 rows, this run from 1,000"));
            var host = Tutorial(run with { Backend = "host", Device = "host" }, Json(false, "cpu", 1000));
            Assert.That(host.RatioToEager, Is.Not.Null, "the host backend compares with PyTorch on the CPU");
        });
    }

    [Test]
    public void TheTableCountsTheTargetsAndKeepsThreeDigitsOfSmallRatios()
    {
        var table = FullCudaRun().WithPyTorch(PyTorchReport.Parse(PyTorchJson)).ToTable();
        Assert.That(table, Does.Contain("targets: 3 met, 2 missed, 0 not judged"));
        Assert.That(table, Does.Contain("0.00482"), "4 µs against 830 µs");
    }

    [Test]
    public void TheJsonSpellsPyTorchAsTheToolDoes()
    {
        var json = FullCudaRun().WithPyTorch(PyTorchReport.Parse(PyTorchJson), "torch.json").ToJson();
        Assert.That(json, Does.Contain("\"pytorch\":").And.Contain("\"pytorch_source\":").And.Contain("\"pytorch_version\":"));
        Assert.That(json, Does.Not.Contain("py_torch"));
        var back = BenchmarkReport.FromJson(json);
        Assert.That(back.PyTorchSource, Is.EqualTo("torch.json"));
        Assert.That(back.Results.Single(r => r.CaseId == "large").PyTorch!.RatioToEager, Is.EqualTo(12e-3 / 11e-3).Within(1e-12));
    }

    [Test]
    public void AMissingCaseGivesANote()
    {
        const string json = """{"results": [{"case_id": "huge", "variant": "eager", "batch": 1048576, "in_size": 1, "out_size": 1, "seconds_per_step": 1e-3}]}""";
        var large = FullCudaRun().WithPyTorch(PyTorchReport.Parse(json)).Results.Single(r => r.CaseId == "large");
        Assert.That(large.PyTorch!.Note, Does.Contain("no PyTorch result for case large"));
        Assert.That(large.Target!.Status, Is.EqualTo(TargetResult.NotJudged));
    }

    [TestCase("not json")]
    [TestCase("""{"results": [{"case_id": "huge", "variant": "eager", "seconds_per_step": -1}]}""")]
    [TestCase("""{"results": [{"variant": "eager", "seconds_per_step": 1}]}""")]
    [TestCase("null")]
    [TestCase("""{"results": null}""")]
    [TestCase("""{"results": [null]}""")]
    [TestCase("{}")]
    [TestCase("""{"results": []}""")]
    [TestCase("""{"command": "restore-line", "runs": [{"name": "short", "steps": 200}]}""")]
    public void MalformedPyTorchFilesAreRejected(string json)
    {
        Assert.Throws<InvalidDataException>(() => PyTorchReport.Parse(json));
    }

    [Test]
    public void AMissingPyTorchFileIsReported()
    {
        Assert.Throws<FileNotFoundException>(() => PyTorchReport.Load(Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}.json")));
    }

    [Test]
    public void MalformedReportJsonIsRejected()
    {
        Assert.Throws<InvalidDataException>(() => BenchmarkReport.FromJson("{\"results\": 3}"));
    }

    [TestCase(new[] { 3.0 }, 3.0)]
    [TestCase(new[] { 5.0, 1.0, 3.0 }, 3.0)]
    [TestCase(new[] { 4.0, 1.0, 3.0, 2.0 }, 2.5)]
    public void MedianOfRepeats(double[] values, double median)
    {
        Assert.That(StepTimer.Median(values), Is.EqualTo(median));
    }

    [TestCase(1, new[] { 0 })]
    [TestCase(3, new[] { 0, 1, 2 })]
    [TestCase(4096, new[] { 0, 585, 1170, 1755, 2340, 2925, 3510, 4095 })]
    public void SampledColumnsSpanTheOutputs(int outSize, int[] expected)
    {
        Assert.That(CorrectnessCheck.SampleColumns(outSize, CorrectnessCheck.MaxColumns), Is.EqualTo(expected));
    }

    [Test]
    public void CorrectnessCheckAcceptsTheTrueStepAndRejectsAWrongOne()
    {
        // Batch 3, 2 → 2: the step computed by hand in float64.
        float[] x = [1f, 2f, -1f, 0.5f, 0f, 3f];
        float[] t = [1f, 0f, 2f, -1f, 0.5f, 0.5f];
        float[] w = [0.1f, -0.2f, 0.3f, 0.4f];
        float[] b = [0.05f, -0.05f];
        const float lr = 0.5f;
        var (w1, b1) = HandStep(x, t, w, b, 3, 2, 2, lr);

        using var input = Tensor.FromArray(Device.Host, x, 3, 2);
        using var target = Tensor.FromArray(Device.Host, t, 3, 2);
        using var check = CorrectnessCheck.FromDevice(input, target);

        var good = check.Compare(w, b, w1, b1, lr);
        Assert.That(good.Passed, Is.True);
        Assert.That(good.CheckedColumns, Is.EqualTo(2));
        Assert.That(good.MaxAbsDiffReference, Is.LessThan(1e-6));

        var wrong = (float[])w1.Clone();
        wrong[3] += 1e-2f;
        var bad = check.Compare(w, b, wrong, b1, lr);
        Assert.That(bad.Passed, Is.False);
        Assert.That(bad.MaxAbsDiffReference, Is.EqualTo(1e-2).Within(1e-6));

        var nan = (float[])b1.Clone();
        nan[0] = float.NaN;
        Assert.That(check.Compare(w, b, w1, nan, lr).Passed, Is.False);
    }

    private static (float[] W, float[] B) HandStep(float[] x, float[] t, float[] w, float[] b, int batch, int inSize, int outSize, float lr)
    {
        var g = new double[batch * outSize];
        for (var r = 0; r < batch; r++)
            for (var j = 0; j < outSize; j++)
            {
                double y = b[j];
                for (var i = 0; i < inSize; i++)
                    y += (double)x[r * inSize + i] * w[i * outSize + j];
                g[r * outSize + j] = (y - t[r * outSize + j]) / (batch * outSize);
            }
        var w1 = new float[w.Length];
        var b1 = new float[b.Length];
        for (var j = 0; j < outSize; j++)
        {
            double db = 0;
            for (var r = 0; r < batch; r++)
                db += g[r * outSize + j];
            b1[j] = (float)(b[j] - lr * db);
            for (var i = 0; i < inSize; i++)
            {
                double dw = 0;
                for (var r = 0; r < batch; r++)
                    dw += x[r * inSize + i] * g[r * outSize + j];
                w1[i * outSize + j] = (float)(w[i * outSize + j] - lr * dw);
            }
        }
        return (w1, b1);
    }

    [TestCase(830e-6, "830 µs")]
    [TestCase(1.05e-6, "1.05 µs")]
    [TestCase(0.011, "11 ms")]
    [TestCase(2.5, "2.5 s")]
    [TestCase(4e-8, "40 ns")]
    public void SecondsAreWrittenWithAUnit(double seconds, string text)
    {
        Assert.That(BenchmarkReport.FormatSeconds(seconds), Is.EqualTo(text));
    }
}
