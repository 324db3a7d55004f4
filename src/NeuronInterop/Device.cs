using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NeuronInterop.Native;

namespace NeuronInterop;

/// <summary>
/// A compute device: one native context (a backend instance with its stream and scratch space).
/// The shared devices (<see cref="Host"/>, <see cref="Cuda"/>, <see cref="Default"/>) live for
/// the whole process and ignore <see cref="Dispose"/>.
/// </summary>
public sealed unsafe class Device : IDisposable
{
    /// <summary>The environment variable that chooses <see cref="Default"/>: <c>auto</c> (the default), <c>host</c> or <c>cuda</c>.</summary>
    public const string BackendVariable = "NEURON_BACKEND";

    private static readonly Lock s_gate = new();
    private static readonly Dictionary<int, Device> s_cuda = [];
    private static Device? s_host;
    private static DefaultChoice? s_default;

    private readonly bool _shared;

    private Device(ContextHandle handle, BackendKind backend, int index, bool shared)
    {
        Handle = handle;
        Backend = backend;
        Index = index;
        _shared = shared;
    }

    /// <summary>Where the library logs which device <see cref="Default"/> and <see cref="FromName"/> chose; no logging unless set.</summary>
    public static ILogger Logger { get; set; } = NullLogger.Instance;

    /// <summary>The host (CPU) device, shared by the whole process.</summary>
    public static Device Host
    {
        get
        {
            Device? host = Volatile.Read(ref s_host);
            if (host is not null)
            {
                return host;
            }

            lock (s_gate)
            {
                return s_host ??= Create(BackendKind.Host, 0, shared: true);
            }
        }
    }

    /// <summary>
    /// The default device, from the <c>NEURON_BACKEND</c> environment variable: <c>auto</c> (also when unset)
    /// takes CUDA device 0 when a GPU is present and the host otherwise; <c>host</c>; <c>cuda</c> or <c>cuda:N</c>.
    /// The choice is logged to <see cref="Logger"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The variable holds another value, or the host backend's settings (<c>NEURON_HOST_THREADS</c>, <c>NEURON_HOST_SIMD</c>) are invalid.</exception>
    /// <exception cref="DeviceUnavailableException">CUDA was asked for and is not present.</exception>
    public static Device Default
    {
        get
        {
            string? setting = Environment.GetEnvironmentVariable(BackendVariable);
            DefaultChoice? cached = Volatile.Read(ref s_default);
            if (cached is not null && cached.Setting == setting)
            {
                return cached.Device;
            }

            string name = string.IsNullOrWhiteSpace(setting) ? "auto" : setting;
            if (!IsValidName(name))
            {
                throw new ArgumentException(
                    $"The environment variable {BackendVariable}='{setting}' does not name a backend; use auto, host, cuda or cuda:N.");
            }
            // A named device that cannot start (the host backend's own settings, NEURON_HOST_THREADS or
            // NEURON_HOST_SIMD, are invalid; CUDA is absent) says so itself: the setting is not to blame.
            Device device = FromName(name, Logger);

            Volatile.Write(ref s_default, new DefaultChoice(setting, device));
            return device;
        }
    }

    /// <summary>Whether the CUDA backend was compiled into the loaded native library.</summary>
    public static bool IsCudaCompiled
    {
        get
        {
            int compiled;
            Ensure.Success(NeuronNative.nrn_cuda_compiled(&compiled));
            return compiled != 0;
        }
    }

    /// <summary>The number of usable CUDA devices; 0 without CUDA support, a driver or a GPU.</summary>
    public static int CudaDeviceCount
    {
        get
        {
            int count;
            Ensure.Success(NeuronNative.nrn_cuda_device_count(&count));
            return count;
        }
    }

    /// <summary>The full path libneuron.so was loaded from.</summary>
    public static string NativeLibraryPath => NativeLibraryLoader.LoadedPath;

    /// <summary>The version of the loaded native library.</summary>
    public static Version NativeVersion
    {
        get
        {
            int major, minor, patch;
            Ensure.Success(NeuronNative.nrn_version(&major, &minor, &patch));
            return new Version(major, minor, patch);
        }
    }

    /// <summary>
    /// Waits until the native memory of the tensors and devices the garbage collector has finalised so far is
    /// released. Those never disposed are released on a thread of their own, so that the process's finalizer
    /// thread never waits for a busy device; after <c>GC.Collect(); GC.WaitForPendingFinalizers();</c> this call
    /// makes their memory free for the next allocation. It waits for a long call on their device.
    /// </summary>
    public static void WaitForFinalizedReleases() => FinalizedHandles.WaitForQueued();

    /// <summary>
    /// The number of live native handles (contexts, tensors and pinned buffers) in the process. It first waits for
    /// the release of the tensors and devices already finalised (see <see cref="WaitForFinalizedReleases"/>), which
    /// waits for a long call on their device.
    /// </summary>
    public static long LiveHandleCount
    {
        get
        {
            FinalizedHandles.WaitForQueued();
            long count;
            Ensure.Success(NeuronNative.nrn_live_handle_count(&count));
            return count;
        }
    }

    /// <summary>The backend of this device.</summary>
    public BackendKind Backend { get; }

    /// <summary>The CUDA device index, or -1 for the host.</summary>
    public int Index { get; }

    /// <summary>Whether this device has been disposed (shared devices never are).</summary>
    public bool IsDisposed => Handle.IsClosed;

    internal ContextHandle Handle { get; }

    /// <summary>CUDA device <paramref name="index"/>, shared by the whole process.</summary>
    /// <param name="index">The CUDA device index, from 0.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is negative.</exception>
    /// <exception cref="DeviceUnavailableException">CUDA support is not compiled in, there is no GPU, or no device has that index.</exception>
    public static Device Cuda(int index = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        lock (s_gate)
        {
            if (!s_cuda.TryGetValue(index, out Device? device))
            {
                device = Create(BackendKind.Cuda, index, shared: true);
                s_cuda.Add(index, device);
            }

            return device;
        }
    }

    /// <summary>A device by name: <c>auto</c>, <c>host</c>, <c>cuda</c> (device 0) or <c>cuda:N</c>, case-insensitive.</summary>
    /// <param name="name">The device name.</param>
    /// <param name="logger">Where to log the choice; <see cref="Logger"/> when null.</param>
    /// <exception cref="ArgumentException"><paramref name="name"/> names no device.</exception>
    /// <exception cref="DeviceUnavailableException">CUDA was asked for and is not present.</exception>
    public static Device FromName(string name, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!TryParseName(name, out var kind, out int index))
            throw new ArgumentException($"'{name}' does not name a device; use auto, host, cuda or cuda:N.", nameof(name));
        logger ??= Logger;
        switch (kind)
        {
            case NameKind.Host:
                logger.LogInformation("Using the host backend.");
                return Host;
            case NameKind.Auto when CudaDeviceCount > 0:
                Device found = Cuda(0);
                logger.LogInformation("Using CUDA device 0 ({Name}), found by 'auto'.", GetCudaDeviceInfo(0).Name);
                return found;
            case NameKind.Auto:
                logger.LogInformation(
                    "Using the host backend: 'auto' found no CUDA device ({Reason}).", CudaUnavailableReason());
                return Host;
            default:
                Device cuda = Cuda(index);
                logger.LogInformation("Using CUDA device {Index} ({Name}).", index, GetCudaDeviceInfo(index).Name);
                return cuda;
        }
    }

    /// <summary>
    /// Whether <paramref name="name"/> is a name <see cref="FromName"/> accepts (<c>auto</c>, <c>host</c>,
    /// <c>cuda</c> or <c>cuda:N</c> with N in digits, case-insensitive, spaces around it ignored), whether or not that device is present.
    /// </summary>
    /// <param name="name">The name to check; null is not a name.</param>
    public static bool IsValidName([NotNullWhen(true)] string? name) => TryParseName(name, out _, out _);

    private enum NameKind { Auto, Host, Cuda }

    private static bool TryParseName([NotNullWhen(true)] string? name, out NameKind kind, out int index)
    {
        (kind, index) = (NameKind.Cuda, 0);
        string trimmed = name?.Trim() ?? "";
        if (trimmed.Equals("host", StringComparison.OrdinalIgnoreCase))
            kind = NameKind.Host;
        else if (trimmed.Equals("auto", StringComparison.OrdinalIgnoreCase))
            kind = NameKind.Auto;
        else if (!trimmed.StartsWith("cuda", StringComparison.OrdinalIgnoreCase))
            return false;
        else if (trimmed.Length > 4 && !(trimmed[4] == ':' && int.TryParse(trimmed.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out index)))
            return false;
        return name is not null;
    }

    /// <summary>The properties of CUDA device <paramref name="index"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is negative.</exception>
    /// <exception cref="DeviceUnavailableException">There is no such device.</exception>
    public static CudaDeviceInfo GetCudaDeviceInfo(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        nrn_device_info info;
        Ensure.Success(NeuronNative.nrn_cuda_device_info(index, &info));
        return new CudaDeviceInfo(
            index,
            TextOf(new ReadOnlySpan<byte>(info.name, 256)),
            info.total_memory,
            info.compute_major,
            info.compute_minor,
            info.multiprocessor_count);
    }

    /// <summary>How the host backend computes: its matrix kernels' instruction set and its threads.</summary>
    /// <exception cref="ArgumentException">NEURON_HOST_SIMD or NEURON_HOST_THREADS is set to something it does not accept.</exception>
    public static HostBackendInfo HostInfo
    {
        get
        {
            nrn_host_properties info;
            Ensure.Success(NeuronNative.nrn_host_info(&info));
            return new HostBackendInfo(TextOf(new ReadOnlySpan<byte>(info.simd, 16)), info.threads);
        }
    }

    /// <summary>The UTF-8 text of a fixed-size field of the C API, up to its terminating NUL (or the whole field).</summary>
    private static string TextOf(ReadOnlySpan<byte> field)
    {
        int end = field.IndexOf((byte)0);
        return System.Text.Encoding.UTF8.GetString(end < 0 ? field : field[..end]);
    }

    /// <summary>Creates a device with its own native context that <see cref="Dispose"/> destroys.</summary>
    internal static Device CreateOwned(BackendKind backend, int index = 0) => Create(backend, index, shared: false);

    /// <summary>
    /// Why no CUDA device is usable, in the native library's words (an old driver, say, when the
    /// CUDA runtime reports one), or null when one is.
    /// </summary>
    public static string? CudaUnavailableReason()
    {
        if (!IsCudaCompiled)
        {
            return "CUDA support not compiled in";
        }
        if (CudaDeviceCount > 0)
        {
            return null;
        }
        try
        {
            using Device probe = CreateOwned(BackendKind.Cuda);
            return null;
        }
        catch (DeviceUnavailableException e)
        {
            return e.Message;
        }
    }

    /// <summary>Waits until all work enqueued on this device has finished; reports any deferred backend error.</summary>
    public void Synchronize()
    {
        using var context = Lease();
        Ensure.Success(NeuronNative.nrn_context_synchronize(context.Pointer));
    }

    /// <summary>"host" or "cuda:N".</summary>
    public override string ToString() => Backend == BackendKind.Host ? "host" : $"cuda:{Index}";

    /// <summary>Releases the native context of a device made for one owner; does nothing for the shared devices.</summary>
    public void Dispose()
    {
        if (!_shared)
        {
            Handle.Dispose();
        }
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> when this device has been disposed.</summary>
    internal void ThrowIfDisposed()
    {
        if (Handle.IsClosed)
        {
            throw new ObjectDisposedException($"Device {this}");
        }
    }

    /// <summary>The native context for one call (see <see cref="ContextLease"/>); throws <see cref="ObjectDisposedException"/> when disposed.</summary>
    internal ContextLease Lease()
    {
        ThrowIfDisposed();
        return new ContextLease(Handle);
    }

    private static Device Create(BackendKind backend, int index, bool shared)
    {
        var nativeBackend = backend == BackendKind.Cuda ? nrn_backend.NRN_BACKEND_CUDA : nrn_backend.NRN_BACKEND_HOST;
        ContextHandle handle = ContextHandle.Create(nativeBackend, index);
        try
        {
            int device;
            using (var context = new ContextLease(handle))
            {
                Ensure.Success(NeuronNative.nrn_context_device(context.Pointer, &device));
            }

            return new Device(handle, backend, device, shared);
        }
        catch
        {
            handle.Dispose();   // a shared device that failed here is never cached: do not leave its context to the finaliser
            throw;
        }
    }

    private sealed record DefaultChoice(string? Setting, Device Device);
}
