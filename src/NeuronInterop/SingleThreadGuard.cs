namespace NeuronInterop;

/// <summary>
/// Refuses a call on an object that another thread is using: a module or a cost keeps state from
/// one call to the next (its output, remembered input, gradients, error sums), so calls from two
/// threads at once would read each other's results without a word. The thread that holds the
/// object may call on it again, and any thread may take it once it is free. The check covers
/// each call (a handler's whole call): a sequence of calls made by hand needs a lock of its own.
/// </summary>
internal sealed class SingleThreadGuard(Func<string> describe, string sharedState)
{
    private int _thread;  // the managed id of the thread using the object, 0 when none
    private int _depth;   // that thread's nested uses; touched only by it
    private volatile bool _closed;

    /// <summary>Marks the object as used by this thread until the returned scope is disposed.</summary>
    /// <exception cref="InvalidOperationException">Another thread is using the object.</exception>
    /// <exception cref="ObjectDisposedException">The object has been disposed (<see cref="Close"/>).</exception>
    public Use Enter()
    {
        int me = Environment.CurrentManagedThreadId;
        if (Volatile.Read(ref _thread) != me)
        {
            Take(me);
        }
        if (_closed)
        {
            // Disposed after the caller's own check and before this use: nothing of it may be touched.
            if (_depth == 0)
            {
                Volatile.Write(ref _thread, 0);
            }
            throw new ObjectDisposedException(describe());
        }
        _depth++;
        return new Use(this);
    }

    /// <summary>Refuses every later <see cref="Enter"/> with an <see cref="ObjectDisposedException"/>: called by a dispose that holds the object.</summary>
    public void Close() => _closed = true;

    /// <summary>
    /// Frees the object that this thread holds while it waits for a callback (which may hand work to
    /// another thread and wait for it, as a UI's <c>Dispatcher.Invoke</c> does); disposing the returned
    /// scope takes it back, with this thread's nested uses.
    /// </summary>
    /// <exception cref="InvalidOperationException">(On dispose) another thread still uses the object.</exception>
    public Handover Release()
    {
        if (Volatile.Read(ref _thread) != Environment.CurrentManagedThreadId)
        {
            return default;
        }
        int depth = _depth;
        _depth = 0;
        Volatile.Write(ref _thread, 0);
        return new Handover(this, depth);
    }

    private void Take(int me)
    {
        if (Interlocked.CompareExchange(ref _thread, me, 0) != 0)
        {
            throw new InvalidOperationException(
                $"{describe()} is in use on another thread. It belongs to one thread at a time, since every call shares " +
                $"{sharedState}: give each thread its own, or take turns with a lock around each call.");
        }
    }

    private void Exit()
    {
        // A use whose object was not taken back after a callback (Handover threw) holds nothing.
        if (Volatile.Read(ref _thread) == Environment.CurrentManagedThreadId && --_depth == 0)
        {
            Volatile.Write(ref _thread, 0);
        }
    }

    /// <summary>One use of the object; disposing it ends the use.</summary>
    internal readonly struct Use(SingleThreadGuard guard) : IDisposable
    {
        public void Dispose() => guard.Exit();
    }

    /// <summary>The object freed for a callback; disposing it takes the object back.</summary>
    internal readonly struct Handover(SingleThreadGuard? guard, int depth) : IDisposable
    {
        public void Dispose()
        {
            if (guard is not null)
            {
                guard.Take(Environment.CurrentManagedThreadId);
                guard._depth = depth;
            }
        }
    }
}
