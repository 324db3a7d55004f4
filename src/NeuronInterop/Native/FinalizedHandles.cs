using System.Collections.Concurrent;

namespace NeuronInterop.Native;

/// <summary>
/// Releases the native handles of tensors and devices that were never disposed, once the garbage
/// collector finalised them, on a thread of its own. A release waits for the device: for its lock,
/// which one long call (a million training steps) holds for seconds, and on CUDA for the work
/// enqueued before it. The finalizer thread is shared by the whole process, so it only queues them.
/// </summary>
internal static unsafe class FinalizedHandles
{
    private static readonly BlockingCollection<(IntPtr Handle, bool IsContext)> Queue = new();
    private static readonly object Idle = new();
    private static long _queued;  // queued and not yet released
    private static long _released;
    private static int _started;

    /// <summary>The number of handles released here since the process started.</summary>
    internal static long ReleasedCount => Volatile.Read(ref _released);

    /// <summary>Queues a finalised handle for release; never waits for the device.</summary>
    public static void Release(IntPtr handle, bool isContext)
    {
        Interlocked.Increment(ref _queued);
        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            new Thread(Run) { IsBackground = true, Name = "NeuronInterop finalized handles" }.Start();
        }
        Queue.Add((handle, isContext));
    }

    /// <summary>Waits until every handle queued so far has been released.</summary>
    public static void WaitForQueued()
    {
        lock (Idle)
        {
            while (Volatile.Read(ref _queued) != 0)
            {
                Monitor.Wait(Idle);
            }
        }
    }

    private static void Run()
    {
        foreach ((IntPtr handle, bool isContext) in Queue.GetConsumingEnumerable())
        {
            // A failed release has no caller to tell: the object it belonged to is gone.
            _ = isContext
                ? NeuronNative.nrn_context_destroy((nrn_context*)handle)
                : NeuronNative.nrn_tensor_destroy((nrn_tensor*)handle);
            Interlocked.Increment(ref _released);
            if (Interlocked.Decrement(ref _queued) == 0)
            {
                lock (Idle)
                {
                    Monitor.PulseAll(Idle);
                }
            }
        }
    }
}
