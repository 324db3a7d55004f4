namespace NeuronInterop.Modules;

/// <summary>
/// The tensors a module writes one kind of result into (its outputs, or its input gradients) and hands out. The buffer
/// a call writes never shares memory with that call's inputs, which may be earlier results or views of them (a layer
/// applied to its own output, <c>lin(lin(x))</c>, or a handler cutting that output into batches): so it is one buffer
/// in the common case, and at most one more than a call has inputs. A buffer is kept between calls and reallocated
/// only when the row count changes or a caller disposed it.
/// </summary>
internal sealed class ResultBuffers : IDisposable
{
    // The buffer handed out last comes first, so that a call like the last one writes the same buffer.
    private readonly List<Tensor> _buffers = [];

    /// <summary>
    /// A buffer of <paramref name="rows"/> × <paramref name="columns"/> that shares no memory with
    /// <paramref name="input"/> nor <paramref name="otherInput"/>; its contents are the last result written to it.
    /// </summary>
    /// <param name="device">The device to allocate on.</param>
    /// <param name="rows">The rows the result has.</param>
    /// <param name="columns">The columns it has (the same for every call of one kind).</param>
    /// <param name="input">An input of the call that writes the buffer.</param>
    /// <param name="otherInput">Another input of that call, or null.</param>
    /// <returns>The buffer, owned by this object.</returns>
    public Tensor Take(Device device, long rows, long columns, Tensor input, Tensor? otherInput = null)
    {
        _buffers.RemoveAll(buffer => buffer.IsDisposed);
        int chosen = -1;
        for (int i = 0; i < _buffers.Count; i++)
        {
            Tensor buffer = _buffers[i];
            if (buffer.SharesMemoryWith(input) || buffer.SharesMemoryWith(otherInput))
            {
                continue;
            }
            if (buffer.Shape[0] == rows)
            {
                chosen = i;
                break;
            }
            if (chosen < 0)
            {
                chosen = i;  // reallocated, unless a later buffer has the rows
            }
        }

        Tensor taken;
        if (chosen >= 0 && _buffers[chosen].Shape[0] == rows)
        {
            taken = _buffers[chosen];
            _buffers.RemoveAt(chosen);
        }
        else
        {
            if (chosen >= 0)
            {
                // Released before its replacement is allocated, so that the two never take memory at once.
                _buffers[chosen].Dispose();
                _buffers.RemoveAt(chosen);
            }
            taken = new Tensor(device, rows, columns);
        }
        _buffers.Insert(0, taken);
        return taken;
    }

    /// <summary>Disposes every buffer.</summary>
    public void Dispose()
    {
        foreach (Tensor buffer in _buffers)
        {
            buffer.Dispose();
        }
        _buffers.Clear();
    }
}
