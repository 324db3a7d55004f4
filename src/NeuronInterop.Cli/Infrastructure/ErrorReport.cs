namespace NeuronInterop.Cli.Infrastructure;

/// <summary>Turns an exception into the one line the user sees.</summary>
internal static class ErrorReport
{
    /// <param name="exception">The failure.</param>
    /// <param name="deviceSetting">
    /// <c>NEURON_BACKEND</c>'s value when it, not <c>--device</c>, chose the device
    /// (<see cref="OptionParsers.DeviceFromEnvironment"/>); null otherwise.
    /// </param>
    /// <returns>The line, and whether the failure is a known kind (a bad input or an absent device) rather than a defect.</returns>
    public static (string Message, bool Known) Describe(Exception exception, string? deviceSetting = null)
    {
        while (exception is TypeInitializationException or AggregateException && exception.InnerException is not null)
            exception = exception.InnerException!;

        string text = CliApplication.OneLine(exception.Message);
        return exception switch
        {
            CliException => (text, true),
            DeviceUnavailableException when deviceSetting is not null =>
                ($"no usable CUDA device: {text} (the environment variable {Device.BackendVariable}={deviceSetting} chose it: " +
                 $"use --device auto or --device host, or change or unset {Device.BackendVariable}; 'neuron info' lists the devices)", true),
            DeviceUnavailableException =>
                ($"no usable CUDA device: {text} (use --device auto or --device host; 'neuron info' lists the devices)", true),
            // The loader's own message says what to do.
            NativeLibraryNotFoundException => ($"cannot load the native library libneuron.so: {text}", true),
            DllNotFoundException or EntryPointNotFoundException or BadImageFormatException =>
                ($"cannot load the native library libneuron.so: {text} (set NEURON_NATIVE_PATH to the file or its folder)", true),
            NeuronException neuron => ($"{text} (native status {neuron.Status})", true),
            // A result file that is not what it should be (neuron bench --pytorch).
            InvalidDataException => (text, true),
            UnauthorizedAccessException or IOException => (text, true),
            OutOfMemoryException => ($"out of memory: {text}", true),
            ArgumentException => (text, true),
            OperationCanceledException => ("cancelled", true),
            _ => ($"internal error ({exception.GetType().Name}): {text} (run with --verbosity diagnostic for details)", false),
        };
    }
}
