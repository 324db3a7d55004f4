using CsCheck;
using NeuronInterop.Tests.Infrastructure;
using NUnit.Framework;
using NUnit.Framework.Internal;

namespace NeuronInterop.Tests.Bindings;

/// <summary>
/// Random sequences of tensor operations (create, row views of tensors and of views, dispose in any
/// order, fill, copy between tensors that may share memory, copy rows, read back) against a model of
/// the memory they share: every read matches the model, every refused call names its reason and
/// changes nothing, and once all tensors are disposed no native handle is left. On every backend.
/// </summary>
/// <remarks>
/// As in <see cref="Model.TrainingPropertyTests"/>, every run checks the same sequences, each from a
/// fixed seed; <c>CsCheck_Seed</c> replays a printed one and <c>CsCheck_Iter=N</c> draws N random ones.
/// </remarks>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.Names))]
public sealed class TensorLifetimePropertyTests(string backend)
{
    /// <summary>Sequences in every run (together well under a second on either backend).</summary>
    private const int FixedSequences = 200;

    private Device Device => TestBackends.Get(backend);

    [SetUp]
    public void SkipAbsentBackends() => _ = TestBackends.Get(backend);

    /// <summary>One operation: what it does, and three numbers that pick its tensors, rows and values.</summary>
    public readonly record struct Op(OpKind Kind, int A, int B, int C);

    public enum OpKind { Create, View, Dispose, Fill, Copy, CopyRows, Read }

    private static readonly Gen<Op[]> Sequences =
        Gen.Select(Gen.Enum<OpKind>(), Gen.Int[0, 1000], Gen.Int[0, 1000], Gen.Int[0, 1000],
            (kind, a, b, c) => new Op(kind, a, b, c)).Array[1, 60];

    [Test]
    public void TensorsAndViewsBehaveLikeTheirModel()
    {
        void Isolated(Op[] ops)
        {
            using var isolated = new TestExecutionContext.IsolatedContext();
            Run(ops);
        }

        string? seed = Environment.GetEnvironmentVariable("CsCheck_Seed");
        bool draw = Environment.GetEnvironmentVariable("CsCheck_Iter") is not null
                    || Environment.GetEnvironmentVariable("CsCheck_Time") is not null;
        if (seed is not null || draw)
        {
            Sequences.Sample(Isolated, seed: seed, iter: draw ? -1 : 1, threads: 1, print: Print);
            return;
        }
        for (int i = 0; i < FixedSequences; i++)
        {
            var caseSeed = new PCG(2, 0x9E3779B97F4A7C15UL * (ulong)(i + 1)).ToString();
            Sequences.Sample(Isolated, seed: caseSeed, iter: 1, threads: 1, print: Print);
        }
    }

    private static string Print(Op[] ops) => string.Join("; ", ops.Select(o => $"{o.Kind}({o.A},{o.B},{o.C})"));

    /// <summary>A live tensor and where its elements sit in the model's memory.</summary>
    private sealed record Entry(Tensor Tensor, float[] Storage, int Offset, int Rows, int Columns)
    {
        public int Count => Rows * Columns;

        public float[] Values => Storage.AsSpan(Offset, Count).ToArray();

        public bool Overlaps(Entry other) =>
            ReferenceEquals(Storage, other.Storage) && Offset < other.Offset + other.Count && other.Offset < Offset + Count;
    }

    private void Run(Op[] ops)
    {
        long handles = Device.LiveHandleCount;
        var live = new List<Entry>();
        try
        {
            for (int step = 0; step < ops.Length; step++)
            {
                Apply(ops[step], live, $"step {step} ({ops[step].Kind})");
            }
            foreach (Entry entry in live)
            {
                Assert.That(entry.Tensor.ToArray(), Is.EqualTo(entry.Values), "at the end");
            }
        }
        finally
        {
            foreach (Entry entry in live)
            {
                entry.Tensor.Dispose();
            }
        }
        Assert.That(Device.LiveHandleCount, Is.EqualTo(handles), "every handle released");
    }

    private void Apply(Op op, List<Entry> live, string what)
    {
        if (op.Kind == OpKind.Create || live.Count == 0)
        {
            int rows = 1 + op.A % 6, columns = 1 + op.B % 5;
            var values = new float[rows * columns];
            for (int i = 0; i < values.Length; i++)
                values[i] = op.C + i;
            live.Add(new Entry(Tensor.FromArray(Device, values, rows, columns), values, 0, rows, columns));
            return;
        }

        Entry target = live[op.A % live.Count];
        switch (op.Kind)
        {
            case OpKind.View:
            {
                int first = op.B % target.Rows, count = 1 + op.C % (target.Rows - first);
                Tensor view = target.Tensor.SliceRows(first, count);
                live.Add(new Entry(view, target.Storage, target.Offset + first * target.Columns, count, target.Columns));
                break;
            }
            case OpKind.Dispose:
                target.Tensor.Dispose();
                live.Remove(target);
                break;
            case OpKind.Fill:
                target.Tensor.Fill(op.B);
                target.Storage.AsSpan(target.Offset, target.Count).Fill(op.B);
                break;
            case OpKind.Copy:
            {
                Entry source = live[op.B % live.Count];
                bool same = ReferenceEquals(source.Storage, target.Storage) && source.Offset == target.Offset;
                if (source.Count != target.Count)
                {
                    Refused<ShapeMismatchException>(() => target.Tensor.CopyFrom(source.Tensor), live, what, "elements");
                }
                else if (!same && source.Overlaps(target))
                {
                    Refused<ArgumentException>(() => target.Tensor.CopyFrom(source.Tensor), live, what, "share memory");
                }
                else
                {
                    target.Tensor.CopyFrom(source.Tensor);
                    source.Values.CopyTo(target.Storage, target.Offset);
                }
                break;
            }
            case OpKind.CopyRows:
            {
                Entry source = live[op.B % live.Count];
                int sourceRow = op.C % source.Rows, targetRow = op.B % target.Rows;
                int rows = 1 + op.C % Math.Min(source.Rows - sourceRow, target.Rows - targetRow);
                int from = source.Offset + sourceRow * source.Columns, to = target.Offset + targetRow * target.Columns;
                int count = rows * source.Columns;
                bool overlap = ReferenceEquals(source.Storage, target.Storage) && from != to && from < to + count && to < from + count;
                if (source.Columns != target.Columns)
                {
                    Refused<ShapeMismatchException>(() => target.Tensor.CopyRowsFrom(source.Tensor, sourceRow, targetRow, rows),
                        live, what, "differ in size");
                }
                else if (overlap)
                {
                    Refused<ArgumentException>(() => target.Tensor.CopyRowsFrom(source.Tensor, sourceRow, targetRow, rows),
                        live, what, "overlap");
                }
                else
                {
                    target.Tensor.CopyRowsFrom(source.Tensor, sourceRow, targetRow, rows);
                    Array.Copy(source.Storage, from, target.Storage, to, count);
                }
                break;
            }
            case OpKind.Read:
                Assert.That(target.Tensor.ToArray(), Is.EqualTo(target.Values), what);
                break;
        }
    }

    /// <summary>Asserts that <paramref name="call"/> throws <typeparamref name="T"/> naming its reason, and changes no tensor.</summary>
    private static void Refused<T>(Action call, List<Entry> live, string what, string reason) where T : Exception
    {
        T e = Assert.Catch<T>(call, what);
        Assert.That(e.Message, Does.Contain(reason), what);
        foreach (Entry entry in live)
        {
            Assert.That(entry.Tensor.ToArray(), Is.EqualTo(entry.Values), $"{what}: a refused call changed a tensor");
        }
    }
}
