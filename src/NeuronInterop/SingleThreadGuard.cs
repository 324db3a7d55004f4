namespace NeuronInterop;

/// <summary>
/// Refuses a call on an object that another thread is using: a module or a cost keeps state from
/// one call to the next (its output, remembered input, gradients, error sums), so calls from two
/// threads at once would read each other's results without a word. The thread that holds the
/// object may call on it again (a trainer's callback validating its module), and any thread may
/// take it once it is free.
/// </summary>
internal sealed class SingleThreadGuard(Func<string> describe, string sharedState)
{
    private int _thread;  // the managed id of the thread using the object, 0 when none
    private int _depth;   // that thread's nested uses; touched only by it

    /// <summary>Marks the object as used by this thread until the returned scope is disposed.</summary>
    /// <exception cref="InvalidOperationException">Another thread is using the object.</exception>
    public Use Enter()
    {
        int me = Environment.CurrentManagedThreadId;
        if (Volatile.Read(ref _thread) != me && Interlocked.CompareExchange(ref _thread, me, 0) != 0)
        {
            throw new InvalidOperationException(
                $"{describe()} is in use on another thread. It belongs to one thread at a time, since every call shares " +
                $"{sharedState}: give each thread its own, or take turns with a lock around each call.");
        }
        _depth++;
        return new Use(this);
    }

    private void Exit()
    {
        if (--_depth == 0)
        {
            Volatile.Write(ref _thread, 0);
        }
    }

    /// <summary>One use of the object; disposing it ends the use.</summary>
    internal readonly struct Use(SingleThreadGuard guard) : IDisposable
    {
        public void Dispose() => guard.Exit();
    }
}
