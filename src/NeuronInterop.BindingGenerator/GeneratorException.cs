namespace NeuronInterop.BindingGenerator;

/// <summary>A problem with the input (a header the generator cannot bind), reported without a stack trace.</summary>
internal sealed class GeneratorException(string message) : Exception(message);
