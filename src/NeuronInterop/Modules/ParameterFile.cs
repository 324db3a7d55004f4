using PureHDF;

namespace NeuronInterop.Modules;

/// <summary>
/// A module's parameters as HDF5, in the layout of PuzzleLib's <c>Module.save</c>: a group
/// <c>params</c> of float32 datasets named <c>0</c>, <c>1</c>, … and a group <c>links</c> of scalar
/// integer datasets named <c>{module name}.{parameter name}</c> (the module name empty when it has
/// none), each holding the name of its dataset in <c>params</c>. A file either library writes, the
/// other loads; a file may hold other modules' parameters as well.
/// </summary>
internal static class ParameterFile
{
    private const string ParamsGroup = "params";
    private const string LinksGroup = "links";

    /// <summary>The name of a parameter's link: <c>{module name}.{parameter name}</c>.</summary>
    internal static string LinkName(Module module, Parameter parameter) => $"{module.Name}.{parameter.Name}";

    /// <summary>Writes the parameters' current values to <paramref name="stream"/>, from its first byte (position 0).</summary>
    /// <exception cref="IOException">PureHDF could not write the file (a module name too long for HDF5, say).</exception>
    internal static void Write(IReadOnlyList<Parameter> parameters, Module module, Stream stream)
    {
        var values = new H5Group();
        var links = new H5Group();
        for (int i = 0; i < parameters.Count; i++)
        {
            Tensor value = parameters[i].Value;
            values[i.ToString(System.Globalization.CultureInfo.InvariantCulture)] =
                new H5Dataset(value.ToArray(), fileDims: value.Shape.Select(d => (ulong)d).ToArray());
            links[LinkName(module, parameters[i])] = (long)i;
        }
        try
        {
            new H5File { [ParamsGroup] = values, [LinksGroup] = links }.Write(stream);
        }
        catch (Exception e) when (e is not (IOException or OutOfMemoryException))
        {
            // PureHDF reports what HDF5 cannot hold with plain exceptions.
            throw new IOException($"{module.Describe()} could not be written as HDF5: {e.Message}", e);
        }
    }

    /// <summary>
    /// Reads every parameter's values from <paramref name="stream"/>, checking each against its
    /// parameter's shape; nothing is copied to the module here, so a file that does not fit
    /// changes nothing.
    /// </summary>
    /// <param name="parameters">The module's parameters.</param>
    /// <param name="module">The module, for its name.</param>
    /// <param name="stream">A seekable stream that holds the file from its first byte (position 0).</param>
    /// <param name="source">The file's name (or "the stream"), for messages.</param>
    /// <returns>Each parameter's values, in the order of <paramref name="parameters"/>.</returns>
    /// <exception cref="InvalidDataException">The stream is not HDF5, or it has no fitting values for a parameter.</exception>
    internal static float[][] Read(IReadOnlyList<Parameter> parameters, Module module, Stream stream, string source)
    {
        try
        {
            using var file = H5File.Open(stream, leaveOpen: true);
            if (!file.LinkExists(LinksGroup) || !file.LinkExists(ParamsGroup))
            {
                throw new InvalidDataException(
                    $"{source} holds no module parameters: it lacks the groups '{ParamsGroup}' and '{LinksGroup}' of a saved module.");
            }
            var result = new float[parameters.Count][];
            for (int i = 0; i < parameters.Count; i++)
            {
                result[i] = ReadParameter(file, module, parameters[i], source);
            }
            CheckNoOwnParameterIsLeftOver(file.Group(LinksGroup), parameters, module, source);
            return result;
        }
        catch (InvalidDataException)
        {
            throw;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // PureHDF's own failures (not HDF5, a damaged file, a type it cannot read) come as
            // several exception types; all mean that the data cannot be loaded.
            throw new InvalidDataException($"{source} could not be read as a parameter file (HDF5): {e.Message}", e);
        }
    }

    /// <summary>
    /// Refuses a file that holds a parameter under the module's own name that the module lacks (a bias
    /// for a layer without one): loading the rest would give another model than the one saved. Links of
    /// other modules, and of modules nested under this name (<c>{name}.{child}.W</c>), are left alone.
    /// </summary>
    private static void CheckNoOwnParameterIsLeftOver(IH5Group links, IReadOnlyList<Parameter> parameters, Module module, string source)
    {
        string prefix = $"{module.Name}.";
        foreach (IH5Object child in links.Children())
        {
            if (!child.Name.StartsWith(prefix, StringComparison.Ordinal))
                continue;
            string parameter = child.Name[prefix.Length..];
            if (parameter.Length == 0 || parameter.Contains('.') || parameters.Any(p => p.Name == parameter))
                continue;
            string own = string.Join(", ", parameters.Select(p => $"'{p.Name}'"));
            throw new InvalidDataException(
                $"{source} holds '{child.Name}', a parameter '{parameter}' that {module.Describe()} does not have (it has {own}): " +
                "the file was saved from a module built otherwise, such as a Linear with a bias loaded into one without. " +
                "To take the weights alone, load the file into a layer with a bias and copy W from it.");
        }
    }

    private static float[] ReadParameter(IH5Group file, Module module, Parameter parameter, string source)
    {
        string link = LinkName(module, parameter);
        string what = $"parameter '{parameter.Name}' of {module.Describe()}";
        IH5Group links = file.Group(LinksGroup);
        if (!links.LinkExists(link))
        {
            string held = string.Join(", ", links.Children().Select(child => $"'{child.Name}'"));
            throw new InvalidDataException(
                $"{source} has no values for {what}: it has no link '{link}' (it holds {(held.Length == 0 ? "none" : held)}).");
        }

        IH5Dataset linkData = links.Dataset(link);
        if (linkData.Type.Class != H5DataTypeClass.FixedPoint || linkData.Space.Dimensions.Length != 0)
        {
            throw new InvalidDataException($"{source}: the link '{link}' is not a single integer.");
        }
        bool signed = linkData.Type.FixedPoint.IsSigned;
        decimal number = linkData.Type.Size switch
        {
            1 => signed ? linkData.Read<sbyte>() : linkData.Read<byte>(),
            2 => signed ? linkData.Read<short>() : linkData.Read<ushort>(),
            4 => signed ? linkData.Read<int>() : linkData.Read<uint>(),
            8 => signed ? linkData.Read<long>() : linkData.Read<ulong>(),
            _ => throw new InvalidDataException($"{source}: the link '{link}' is a {linkData.Type.Size}-byte integer."),
        };
        string index = number.ToString(System.Globalization.CultureInfo.InvariantCulture);
        IH5Group values = file.Group(ParamsGroup);
        if (!values.LinkExists(index))
        {
            throw new InvalidDataException($"{source}: the link '{link}' names '{ParamsGroup}/{index}', which is not there.");
        }

        IH5Dataset data = values.Dataset(index);
        long[] shape = data.Space.Dimensions.Select(d => (long)d).ToArray();
        if (!shape.SequenceEqual(parameter.Value.Shape))
        {
            throw new InvalidDataException(
                $"{source}: {what} has shape {Tensor.FormatShape(shape)} there, but {Module.ShapeText(parameter.Value)} in the module.");
        }
        if (data.Type.Class != H5DataTypeClass.FloatingPoint || (data.Type.Size != 4 && data.Type.Size != 2))
        {
            string type = data.Type.Class == H5DataTypeClass.FloatingPoint ? $"float{8 * data.Type.Size}" : data.Type.Class.ToString();
            throw new InvalidDataException(
                $"{source}: {what} is stored as {type}; only float32 and float16 load without loss.");
        }
        float[] read = data.Type.Size == 4
            ? data.Read<float[]>()
            : data.Read<Half[]>().Select(h => (float)h).ToArray();
        // A damaged file's data may disagree with its own dimensions (a scalar dataspace that still lists them).
        if (read.Length != parameter.Value.ElementCount)
        {
            throw new InvalidDataException(
                $"{source}: {what} holds {read.Length} values there, not the {parameter.Value.ElementCount} of its shape " +
                $"{Tensor.FormatShape(shape)}: the file is damaged.");
        }
        return read;
    }
}
