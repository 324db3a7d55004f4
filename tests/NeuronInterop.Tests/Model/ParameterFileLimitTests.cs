using NeuronInterop.Modules;
using NUnit.Framework;

namespace NeuronInterop.Tests.Model;

/// <summary>
/// The largest parameter <see cref="Module.Save(string)"/> and <see cref="Module.Load(string)"/> take. The limit is
/// the managed layer's own, whatever the device, so it is checked on the host alone: the host leaves a new tensor's
/// memory unwritten (so never resident), where the CUDA emulator fills every allocation.
/// </summary>
public sealed class ParameterFileLimitTests
{
    private string _folder = "";

    [SetUp]
    public void SetUp() => _folder = Directory.CreateTempSubdirectory("neuron-parameter-limit-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_folder, recursive: true);

    [Test]
    public void AParameterLargerThanADotNetArrayIsRefusedBeforeAnyFileIsTouched()
    {
        // One value more than an array holds: 8 GB of address space, never written.
        using var module = new OneHuge(Device.Host, Array.MaxLength + 1L);
        string path = Path.Combine(_folder, "huge.hdf");
        File.WriteAllBytes(path, [1, 2, 3]);
        string expected = $"parameter 'W' of shape [{Array.MaxLength + 1L}] holds {Array.MaxLength + 1L} values";

        Assert.Multiple(() =>
        {
            Assert.That(() => module.Save(path), Throws.TypeOf<NotSupportedException>().With.Message.Contains(expected));
            Assert.That(() => module.Save(new MemoryStream()), Throws.TypeOf<NotSupportedException>().With.Message.Contains(expected));
            Assert.That(() => module.Load(path), Throws.TypeOf<NotSupportedException>().With.Message.Contains(expected));
            Assert.That(() => module.Load(new MemoryStream([1, 2, 3])), Throws.TypeOf<NotSupportedException>().With.Message.Contains(expected));
        });
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(new byte[] { 1, 2, 3 }), "the file was left alone");
        Assert.That(Directory.GetFiles(_folder), Has.Length.EqualTo(1), "no new file was made");
    }

    /// <summary>A module with one parameter 'W' of <paramref name="count"/> values, left unfilled.</summary>
    private sealed class OneHuge(Device device, long count) : Module(device, "huge", null)
    {
        // The gradient's shape does not matter here: only the values are saved and loaded.
        private readonly Parameter _w = new("W", Tensor.Unfilled(device, count), new Tensor(device, 1));
        public override IEnumerable<Parameter> Parameters => [_w];
        protected override void ValidateInput(Tensor input) { }
        protected override Tensor ForwardCore(Tensor input) => input;
        protected override Tensor? BackwardCore(Tensor input, Tensor grad, bool updGrad, bool accumulate) => grad;

        protected override void Dispose(bool disposing)
        {
            _w.Value.Dispose();
            _w.Grad.Dispose();
            base.Dispose(disposing);
        }
    }
}
