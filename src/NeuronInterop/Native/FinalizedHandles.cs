using System.Collections.Concurrent;

namespace NeuronInterop.Native;

/// <summary>
/// Releases the native handles of tensors and devices that were never disposed, once the garbage
/// collector finalised them, on a thread of its own. A release waits for the device: for its lock,
/// which one long call (a million training steps) holds for seconds, and on CUDA for the work
/// enqueued before it. The finalizer thread is shared by the whole process, so it only queues them.
/// </summary>
internal static class FinalizedHandles
{
    private static readonly BlockingCollection<(IntPtr Handle, bool IsContext)> Queue = new();
    private static readonly object Released = new();
    private static long _queuedCount;    // ever queued
    private static long _releasedCount;  // ever released
    private static int _started;

    /// <summary>The number of handles released here since the process started.</summary>
    internal static long ReleasedCount => Volatile.Read(ref _releasedCount);

    /// <summary>Starts the releasing thread, before the first handle that may need it exists (not on the finalizer thread).</summary>
    public static void EnsureStarted()
    {
        if (Volatile.Read(ref _started) == 0 && Interlocked.Exchange(ref _started, 1) == 0)
        {
            try
            {
                new Thread(Run) { IsBackground = true, Name = "NeuronInterop finalized handles" }.Start();
            }
            catch
            {
                Volatile.Write(ref _started, 0);  // the next handle tries again
                throw;
            }
        }
    }

    /// <summary>Queues a finalised handle for release; never waits for the device.</summary>
    public static void Release(IntPtr handle, bool isContext)
    {
        Interlocked.Increment(ref _queuedCount);
        Queue.Add((handle, isContext));
    }

    /// <summary>Waits until the handles queued before the call have been released (not those queued meanwhile).</summary>
    public static void WaitForQueued()
    {
        long target = Volatile.Read(ref _queuedCount);
        lock (Released)
        {
            while (Volatile.Read(ref _releasedCount) < target)
            {
                Monitor.Wait(Released);
            }
        }
    }

    private static void Run()
    {
        foreach ((IntPtr handle, bool isContext) in Queue.GetConsumingEnumerable())
        {
            // A failed release has no caller to tell: the object it belonged to is gone.
            _ = NativeHandle.Destroy(handle, isContext);
            lock (Released)
            {
                Interlocked.Increment(ref _releasedCount);
                Monitor.PulseAll(Released);
            }
        }
    }
}
