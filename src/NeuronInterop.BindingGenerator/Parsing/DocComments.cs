using NeuronInterop.BindingGenerator.Model;

namespace NeuronInterop.BindingGenerator.Parsing;

/// <summary>Turns raw C comments (<c>/** ... */</c>, <c>/* ... */</c>, <c>///</c>, <c>//</c>) into plain text lines.</summary>
internal static class DocComments
{
    public static DocComment FromRaw(string raw)
    {
        if (string.IsNullOrWhiteSpace(raw))
            return DocComment.None;

        var lines = new List<string>();
        foreach (string rawLine in raw.Replace("\r\n", "\n").Split('\n'))
        {
            string line = rawLine.Trim();
            line = StripPrefix(line, "/**", "/*!", "/*", "///", "//!", "//");
            if (line.EndsWith("*/", StringComparison.Ordinal))
                line = line[..^2].TrimEnd();
            // The " * " that continues a block comment.
            if (line.StartsWith('*'))
                line = line[1..];
            lines.Add(line.StartsWith(' ') ? line[1..].TrimEnd() : line.TrimEnd());
        }

        int first = lines.FindIndex(l => l.Length > 0);
        int last = lines.FindLastIndex(l => l.Length > 0);
        return first < 0 ? DocComment.None : new DocComment(lines.GetRange(first, last - first + 1));
    }

    /// <summary>
    /// The comment block that ends on the line just above line <paramref name="line"/> (1-based) of
    /// <paramref name="sourceLines"/>, for declarations that libclang attaches no comment to (macros).
    /// </summary>
    public static DocComment Above(IReadOnlyList<string> sourceLines, int line)
    {
        int end = line - 2; // 0-based index of the line above
        if (end < 0 || end >= sourceLines.Count)
            return DocComment.None;

        string endLine = sourceLines[end].Trim();
        int start = end;
        if (endLine.EndsWith("*/", StringComparison.Ordinal))
        {
            while (start >= 0 && !sourceLines[start].TrimStart().StartsWith("/*", StringComparison.Ordinal))
                start--;
            if (start < 0)
                return DocComment.None;
        }
        else if (endLine.StartsWith("//", StringComparison.Ordinal))
        {
            while (start > 0 && sourceLines[start - 1].TrimStart().StartsWith("//", StringComparison.Ordinal))
                start--;
        }
        else
        {
            return DocComment.None;
        }
        return FromRaw(string.Join('\n', sourceLines.Skip(start).Take(end - start + 1)));
    }

    private static string StripPrefix(string line, params string[] prefixes)
    {
        foreach (string prefix in prefixes)
        {
            if (line.StartsWith(prefix, StringComparison.Ordinal))
                return line[prefix.Length..];
        }
        return line;
    }
}
